WITH "t1" AS (
  SELECT
    "t0"."request_id",
    "t0"."request_type",
    "t0"."district",
    "t0"."created_at",
    "t0"."due_at",
    "t0"."closed_at",
    "t0"."department",
    (
      DATE_DIFF('MILLISECOND', "t0"."created_at", "t0"."closed_at") / 1000.0
    ) / 86400 AS "_duration",
    CAST(DATE_TRUNC('MONTH', "t0"."created_at") AS DATE) AS "_period"
  FROM "service_requests" AS "t0"
  WHERE
    "t0"."created_at" IS NOT NULL
)
SELECT
  *
FROM (
  SELECT
    "t3"."_period",
    '' AS "dim",
    CAST(NULL AS TEXT) AS "dim_value",
    "t3"."num",
    "t3"."den",
    "t3"."val",
    "t3"."n"
  FROM (
    SELECT
      "t2"."_period",
      COUNT("t2"."_duration") AS "n",
      CAST(NULL AS DOUBLE) AS "num",
      CAST(NULL AS DOUBLE) AS "den",
      QUANTILE_CONT("t2"."_duration", 0.5) AS "val"
    FROM "t1" AS "t2"
    GROUP BY
      1
  ) AS "t3"
) AS "t5"
UNION ALL
SELECT
  *
FROM (
  SELECT
    "t4"."_period",
    'request_type' AS "dim",
    "t4"."request_type" AS "dim_value",
    "t4"."num",
    "t4"."den",
    "t4"."val",
    "t4"."n"
  FROM (
    SELECT
      "t2"."_period",
      "t2"."request_type",
      COUNT("t2"."_duration") AS "n",
      CAST(NULL AS DOUBLE) AS "num",
      CAST(NULL AS DOUBLE) AS "den",
      QUANTILE_CONT("t2"."_duration", 0.5) AS "val"
    FROM "t1" AS "t2"
    GROUP BY
      1,
      2
  ) AS "t4"
) AS "t6"
