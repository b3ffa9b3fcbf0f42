"""Stories and the data policy: validated at their places like the rest of the workspace,
served from the applied plan, their embeds showing only published, suppressed numbers."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from stories_helpers import MEASURE, STORY, edit_yaml, scan, story_body, unsafe, write_story
from test_markdown_safety import PAYLOADS

from civicstat.governance.actors import Actor
from civicstat.services import ingest
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.spec.validate import validate_workspace
from civicstat.web.charts import format_value
from civicstat.web.templating import STATUS_LABELS


def _issues(root: Path, prefix: str) -> list[str]:
    _, issues = validate_workspace(root)
    return [str(i) for i in issues if i.path.startswith(prefix)]


def _main(page: str) -> str:
    """What a page shows between its header and footer (the layout's own links aside)."""
    return page[page.index("<main") : page.index("</main>")]


def _monthly_share(root: Path) -> dict[str, tuple[int, float]]:
    """Requests made each month and the share closed by their due date, from the CSV."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with (root / "data" / "service_requests.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            month = counts[row["created_at"][:7]]
            month[1] += 1
            month[0] += bool(row["closed_at"]) and row["closed_at"] <= row["due_at"]
    return {m: (n, 100 * closed / n) for m, (closed, n) in sorted(counts.items())}


@pytest.fixture
def ingested(example_ctx: Context, admin: Actor) -> Context:
    ingest.ingest(example_ctx, admin, "service_requests")
    return example_ctx


@pytest.fixture
def client(example_ctx: Context, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(example_ctx)


# --- validation ---------------------------------------------------------------------------

_BAD_STORIES = [
    ("title: T\ncolour: red\n", "Hi.\n", ["stories/s.md:3:1: unknown key 'colour'"]),
    ("summary: No title\n", "Hi.\n", ["stories/s.md:2:1: missing required field 'title'"]),
    (
        "title: T\npublished: someday\n",
        "Hi.\n",
        ["stories/s.md:3:12: published: 'someday' should be a valid date or datetime, "
         "input is too short"],
    ),
    (
        "title: [unclosed\n",
        "Hi.\n",
        ["stories/s.md:3:1: YAML syntax error: expected ',' or ']', but got '<stream end>' "
         "(while parsing a flow sequence at line 2)"],
    ),
    (
        "title: T\n",
        "Closed: {{ value:pct-requests-closed-on-tim }} of them.\n",
        ["stories/s.md:4:9: measure 'pct-requests-closed-on-tim' not in measures/ "
         "(did you mean 'pct-requests-closed-on-time'?)"],
    ),
    (
        "title: T\n",
        "Intro.\n\n  {{ chart:pct-requests-closed-on-time }}\n",
        ["stories/s.md:6:3: unknown embed 'chart': use measure (a chart) or value (a number)"],
    ),
    (
        "title: T\n",
        "See {{ measure:pct-requests-closed-on-time }} here.\n",
        ["stories/s.md:4:5: a measure embed is a chart: write it alone on a line of its own"],
    ),
    (
        "title: T\n",
        "| a |\n|---|\n| {{ oops }} |\n",
        ["stories/s.md:6:3: '{{ oops }}' is not an embed: write {{ measure:<measure id> }} for "
         "a chart or {{ value:<measure id> }} for a number"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("front", "body", "expected"), _BAD_STORIES)
def test_each_story_problem_is_reported_at_its_place(
    example_root: Path, front: str, body: str, expected: list[str]
) -> None:
    write_story(example_root, "s", front, body)

    assert _issues(example_root, "stories/") == expected


def test_a_story_needs_front_matter_and_a_name_that_is_an_id(example_root: Path) -> None:
    (example_root / "stories" / "No Front.md").write_text("Just text.\n", encoding="utf-8")

    assert _issues(example_root, "stories/") == [
        "stories/No Front.md:1:1: a story starts with front matter: a line '---', "
        "'title: ...', then '---'",
        "stories/No Front.md:1:1: story file name 'No Front' is not a lower-case id (letters, "
        "digits, '-' and '_', first a letter): it is the story's address",
    ]


def test_every_problem_of_every_story_is_reported_in_one_run(example_root: Path) -> None:
    write_story(example_root, "a", "title: A\nextra: 1\n", "{{ value:nope }}\n")
    write_story(example_root, "b", "summary: none\n", "{{ measure:nope }}\n")

    assert [i.split(": ", 1)[0] for i in _issues(example_root, "stories/")] == [
        "stories/a.md:3:1",
        "stories/a.md:5:1",
        "stories/b.md:2:1",
        "stories/b.md:4:1",
    ]


def test_a_story_linked_from_outside_the_workspace_is_refused(
    example_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "server-secret.md"
    outside.write_text("---\ntitle: Secret\n---\nThe server's own file.\n", encoding="utf-8")
    (example_root / "stories" / "leak.md").symlink_to(outside)

    assert _issues(example_root, "stories/") == [
        "stories/leak.md:1:1: stories/leak.md is outside the workspace folder (through a "
        "link?): the portal publishes only files inside it"
    ]


def _policy_line(root: Path) -> str:
    lines = (root / "civicstat.yaml").read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines, 1) if "data_policy:" in line)
    column = lines[number - 1].index("data_policy:") + len("data_policy: ") + 1
    return f"civicstat.yaml:{number}:{column}"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("missing.md", "missing.md not found in the workspace folder"),
        ("docs/.hidden.md", "docs/.hidden.md is hidden (.hidden.md): no source reads hidden "
         "files or folders (.env, .git…)"),
        ("outside.md", "outside.md is outside the workspace folder (through a link?): the "
         "portal publishes only files inside it"),
        ("linked/policy.md", "linked/policy.md is outside the workspace folder (through a "
         "link?): the portal publishes only files inside it"),
    ],
)  # fmt: skip
def test_the_data_policy_must_be_a_file_inside_the_workspace(
    example_root: Path, tmp_path: Path, setting: str, expected: str
) -> None:
    server = tmp_path / "server"
    server.mkdir()
    (server / "policy.md").write_text("The server's own file.\n", encoding="utf-8")
    (example_root / "outside.md").symlink_to(server / "policy.md")
    (example_root / "linked").symlink_to(server, target_is_directory=True)
    (example_root / "docs").mkdir()
    (example_root / "docs" / ".hidden.md").write_text("# Hidden\n", encoding="utf-8")
    edit_yaml(example_root / "civicstat.yaml", {"portal.data_policy": setting})

    assert _issues(example_root, "civicstat.yaml") == [
        f"{_policy_line(example_root)}: portal.data_policy: {expected}"
    ]


@pytest.mark.parametrize("setting", ["../policy.md", "/etc/policy.md", "policy.txt"])
def test_a_data_policy_path_that_climbs_or_is_absolute_is_refused(
    example_root: Path, setting: str
) -> None:
    edit_yaml(example_root / "civicstat.yaml", {"portal.data_policy": setting})

    found = _issues(example_root, "civicstat.yaml")

    assert len(found) == 1
    assert found[0].startswith(f"{_policy_line(example_root)}: portal.data_policy: ")


# --- served from the applied plan -----------------------------------------------------------


def test_the_list_shows_each_story_newest_first(
    example_root: Path, example_ctx: Context, admin: Actor, client: TestClient
) -> None:
    write_story(example_root, "older", {"title": "Older news", "published": "2024-03-05"}, "x\n")
    write_story(example_root, "undated", {"title": "Undated", "summary": "No date."}, "x\n")
    workspace_service.apply(example_ctx, admin)

    page = client.get("/portal/stories")

    assert page.status_code == 200
    items = [a["href"] for a in scan(_main(page.text)).of("a")]
    assert items == [f"/portal/stories/{STORY}", "/portal/stories/older", "/portal/stories/undated"]
    words = scan(_main(page.text)).words
    assert "Are we closing service requests on time? 1 July 2025 · Millbrook Performance" in words
    assert "How quickly Millbrook answers 311 requests" in words
    assert "Older news 5 March 2024" in words
    assert "Undated No date." in words


def test_the_portal_serves_what_was_applied_not_the_files_on_disk(
    example_root: Path, example_ctx: Context, admin: Actor, client: TestClient
) -> None:
    story = example_root / "stories" / f"{STORY}.md"
    story.write_text(story.read_text().replace("## What we are doing", "## Edited"))
    (example_root / "policy.md").unlink()

    before = client.get(f"/portal/stories/{STORY}").text
    assert "What we are doing" in before
    assert "Edited" not in before
    assert "Millbrook data policy" in client.get("/portal/policy").text

    (example_root / "policy.md").write_text("# New policy\n", encoding="utf-8")
    workspace_service.apply(example_ctx, admin)

    after = client.get(f"/portal/stories/{STORY}").text
    assert "Edited" in scan(after).words
    assert "What we are doing" not in after
    assert scan(story_body(client.get("/portal/policy").text)).words == "New policy"


def test_the_policy_page_shows_the_policy_as_html(client: TestClient) -> None:
    page = client.get("/portal/policy")

    assert page.status_code == 200
    body = scan(story_body(page.text))
    assert [t for t, _ in body.tags][:3] == ["div", "h1", "p"]
    assert body.of("a")[0] == {
        "href": "https://creativecommons.org/publicdomain/zero/1.0/",
        "rel": "noopener noreferrer",
    }
    assert page.headers["cache-control"] == "public, max-age=300"
    assert page.headers["etag"].startswith('"')
    assert (
        client.get("/portal/policy", headers={"If-None-Match": page.headers["etag"]}).status_code
        == 304
    )


def _missing_page(client: TestClient) -> tuple[int, str]:
    answer = client.get("/portal/no-such-page-anywhere")
    return answer.status_code, answer.text


def test_what_is_not_there_answers_like_a_missing_page(
    example_root: Path, example_ctx: Context, admin: Actor, client: TestClient
) -> None:
    missing = _missing_page(client)
    assert missing[0] == 404

    answer = client.get("/portal/stories/no-such-story")
    assert (answer.status_code, answer.text) == missing

    edit_yaml(example_root / "civicstat.yaml", {"portal.data_policy": None})
    workspace_service.apply(example_ctx, admin)
    answer = client.get("/portal/policy")
    assert (answer.status_code, answer.text) == missing


def test_a_switched_off_portal_has_no_stories_policy_or_embeds(
    example_root: Path, example_ctx: Context, admin: Actor, client: TestClient
) -> None:
    edit_yaml(example_root / "civicstat.yaml", {"portal.enabled": False})
    workspace_service.apply(example_ctx, admin)
    missing = _missing_page(client)

    for path in (
        "/portal/stories",
        f"/portal/stories/{STORY}",
        "/portal/policy",
        f"/portal/embed/{MEASURE}",
        f"/portal/measures/{MEASURE}/badge.svg",
        f"/portal/oembed?url=http://testserver/portal/measures/{MEASURE}",
    ):
        answer = client.get(path)
        assert (answer.status_code, answer.text) == missing, path


# --- embeds -----------------------------------------------------------------------------------


def test_embeds_show_the_latest_published_value_with_its_period_and_status(
    ingested: Context, example_root: Path, client: TestClient
) -> None:
    share = _monthly_share(example_root)
    month, (_, value) = list(share.items())[-1]
    shown = format_value(value, "percent")

    body = scan(story_body(client.get(f"/portal/stories/{STORY}").text))

    card = body.words.split("Share of service requests closed by their due date", 1)[1]
    assert card.startswith(f" {shown} {month} {STATUS_LABELS['off_target']} Target 85.0%")
    assert f"In the latest month, {shown} ({month}) of requests were closed on time" in body.words
    # The card's chart says every month's value in its description.
    for m, (_, v) in share.items():
        assert f"{m}: {format_value(v, 'percent')}" in body.words
    assert body.of("a")[0]["href"] == f"/portal/measures/{MEASURE}"


def test_embedded_numbers_pass_small_cell_suppression(
    ingested: Context, example_root: Path, admin: Actor, client: TestClient
) -> None:
    share = _monthly_share(example_root)
    month, (n, value) = list(share.items())[-1]
    edit_yaml(example_root / "governance.yaml", {"suppression.k": n + 1})
    workspace_service.apply(ingested, admin)

    page = client.get(f"/portal/stories/{STORY}").text

    words = scan(story_body(page)).words
    assert f"withheld (fewer than {n + 1} records, {month})" in words
    assert f"Withheld: fewer than {n + 1} records {month}" in words
    assert format_value(value, "percent") not in page
    # Months with enough requests are still charted; smaller ones never are.
    for m, (count, v) in share.items():
        assert (f"{m}: {format_value(v, 'percent')}" in words) is (count > n), m


def test_a_measure_that_may_not_be_published_is_not_available(
    ingested: Context, example_root: Path, admin: Actor, client: TestClient
) -> None:
    edit_yaml(example_root / "sources" / "service_requests.yaml", {"classification": "internal"})
    workspace_service.apply(ingested, admin)

    page = client.get(f"/portal/stories/{STORY}").text

    words = scan(story_body(page)).words
    assert "This measure is not available." in words
    assert "In the latest month, not available of requests" in words
    for m, (_, v) in _monthly_share(example_root).items():
        assert format_value(v, "percent") not in page, m


def test_a_hostile_front_matter_is_shown_as_text(
    example_root: Path, example_ctx: Context, admin: Actor, client: TestClient
) -> None:
    """CVE-2025-54384's class: text that a tag-stripping pattern would turn into markup."""
    hostile = PAYLOADS["nested script"] + ' "><img src=x onerror=alert(1)>'
    front = {"title": hostile, "summary": PAYLOADS["nested img"], "author": hostile}
    write_story(example_root, "hostile", front, "Body.\n")
    workspace_service.apply(example_ctx, admin)

    for path in ("/portal/stories", "/portal/stories/hostile"):
        page = client.get(path).text
        assert unsafe(_main(page)) == [], path
        assert hostile in scan(_main(page)).words, path
    assert f"<title>{hostile}" not in client.get("/portal/stories/hostile").text


def test_every_payload_in_a_story_renders_harmless(
    example_root: Path, example_ctx: Context, admin: Actor, client: TestClient
) -> None:
    write_story(example_root, "corpus", {"title": "Corpus"}, "\n\n".join(PAYLOADS.values()))
    workspace_service.apply(example_ctx, admin)

    page = client.get("/portal/stories/corpus")

    assert page.status_code == 200
    assert unsafe(_main(page.text)) == []
    assert "alert(1)" in scan(_main(page.text)).words  # shown as text, not run


def test_a_story_card_escapes_a_hostile_measure_title(
    example_root: Path, example_ctx: Context, admin: Actor, client: TestClient
) -> None:
    hostile = '</a><script>alert("t")</script><img src=x onerror=alert(2)>'
    spec = yaml.safe_load((example_root / "measures" / "requests-received.yaml").read_text())
    spec |= {"id": "hostile-title", "title": hostile}
    (example_root / "measures" / "hostile.yaml").write_text(yaml.safe_dump(spec))
    write_story(
        example_root,
        "h",
        {"title": "H"},
        "{{ measure:hostile-title }}\n\nA {{ value:hostile-title }}.\n",
    )
    workspace_service.apply(example_ctx, admin)
    ingest.ingest(example_ctx, admin, "service_requests")

    body = story_body(client.get("/portal/stories/h").text)

    assert unsafe(body, ours=frozenset({"svg"})) == []
    assert scan(body).words.startswith(f"{hostile} 57 2025-06")
