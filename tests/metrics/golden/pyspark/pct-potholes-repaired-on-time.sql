WITH `t1` AS (
  SELECT
    `t0`.`request_id`,
    `t0`.`request_type`,
    `t0`.`district`,
    `t0`.`created_at`,
    `t0`.`due_at`,
    `t0`.`closed_at`,
    `t0`.`department`,
    CAST(DATE_TRUNC('month', `t0`.`created_at`) AS DATE) AS `_period`
  FROM `service_requests` AS `t0`
  WHERE
    COALESCE(`t0`.`request_type` = 'pothole', FALSE)
    AND `t0`.`created_at` IS NOT NULL
)
SELECT
  *
FROM (
  SELECT
    `t3`.`_period`,
    '' AS `dim`,
    CAST(NULL AS STRING) AS `dim_value`,
    CAST(`t3`.`num` AS DOUBLE) AS `num`,
    CAST(`t3`.`den` AS DOUBLE) AS `den`,
    `t3`.`val`,
    `t3`.`n`
  FROM (
    SELECT
      `t2`.`_period`,
      COUNT(*) AS `n`,
      SUM(
        CAST(COALESCE(
          NOT (
            `t2`.`closed_at` IS NULL
          ) AND (
            `t2`.`closed_at` <= `t2`.`due_at`
          ),
          FALSE
        ) AS INT)
      ) AS `num`,
      COUNT(*) AS `den`,
      CAST(NULL AS DOUBLE) AS `val`
    FROM `t1` AS `t2`
    GROUP BY
      1
  ) AS `t3`
) AS `t5`
UNION ALL
SELECT
  *
FROM (
  SELECT
    `t4`.`_period`,
    'district' AS `dim`,
    `t4`.`district` AS `dim_value`,
    CAST(`t4`.`num` AS DOUBLE) AS `num`,
    CAST(`t4`.`den` AS DOUBLE) AS `den`,
    `t4`.`val`,
    `t4`.`n`
  FROM (
    SELECT
      `t2`.`_period`,
      `t2`.`district`,
      COUNT(*) AS `n`,
      SUM(
        CAST(COALESCE(
          NOT (
            `t2`.`closed_at` IS NULL
          ) AND (
            `t2`.`closed_at` <= `t2`.`due_at`
          ),
          FALSE
        ) AS INT)
      ) AS `num`,
      COUNT(*) AS `den`,
      CAST(NULL AS DOUBLE) AS `val`
    FROM `t1` AS `t2`
    GROUP BY
      1,
      2
  ) AS `t4`
) AS `t6`
