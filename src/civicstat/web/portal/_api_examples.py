"""Copy-paste examples of reading a public dataset through the open data APIs: curl on the
SODA endpoint, a SoQL filter on one of its real columns, the sodapy client, and CKAN's
package_show."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from civicstat.services.open_data import PublicColumn, PublicDataset


@dataclass(frozen=True)
class Example:
    title: str
    code: str


def examples(base: str, dataset: PublicDataset) -> list[Example]:
    """The examples for one dataset served at ``base`` (scheme and host, no slash)."""
    resource = f"{base}/resource/{dataset.id}.json"
    where = soql_where(dataset.columns)
    domain = urlsplit(base).netloc
    found = [
        Example("The first five rows (SODA, JSON)", f"curl '{resource}?$limit=5'"),
    ]
    if where is not None:
        found.append(
            Example(
                "Only some rows: a SoQL filter",
                f"curl -G '{resource}' \\\n  --data-urlencode \"\\$where={where}\" \\\n"
                f"  --data-urlencode '$limit=100'",
            )
        )
    found.append(
        Example(
            "Python, with sodapy",
            "from sodapy import Socrata\n\n"
            f'client = Socrata("{domain}", None)\n'
            f'rows = client.get("{dataset.id}", limit=5)\n'
            "print(rows)",
        )
    )
    found.append(
        Example(
            "Its catalog entry (CKAN)",
            f"curl '{base}/api/3/action/package_show?id={quote(dataset.id)}'",
        )
    )
    return found


def soql_where(columns: list[PublicColumn]) -> str | None:
    """A condition on a real column of the dataset, of a kind every column type allows."""
    for c in columns:
        if c.type in ("timestamp", "date"):
            return f"{c.name} >= '2025-01-01'"
    for c in columns:
        if c.type in ("integer", "float"):
            return f"{c.name} > 0"
    for c in columns:
        if c.type == "string":
            return f"{c.name} IS NOT NULL"
    return None
