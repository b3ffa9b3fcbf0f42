"""The personal columns real exports carry: who reported a 311 request, their phone, the
address and what they wrote; who applied for a permit, the site and the contractor.

They are drawn from a stream of their own, after the rest of a table, so adding them left
every other column's values as they were. Every name, street and number is made up; the
phone numbers are in the 555-01xx range kept for fiction. Addresses read "1234 Oak St"
(now and then with ", Apt 5"), the shape the hundred-block masking generalises.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from civicstat.demo._draw import labels
from civicstat.demo.city import (
    CHANNELS_311,
    DISTRICTS,
    PERMIT_TYPES,
    REQUEST_TYPES,
    WARDS,
    Bools,
    Floats,
    Ints,
)

__all__ = ["STREETS", "permit_columns", "request_columns"]

FIRST_NAMES = (
    "Maria", "James", "Aisha", "Robert", "Linh", "Michael", "Fatima", "David", "Grace", "Jose",
    "Emily", "Darnell", "Sofia", "William", "Mei", "Carlos", "Hannah", "Tyrone", "Olga", "Kevin",
    "Priya", "Thomas", "Rosa", "Daniel", "Keisha", "Andre", "Laura", "Samuel", "Nadia", "Brian",
)  # fmt: skip
LAST_NAMES = (
    "Johnson", "Nguyen", "Garcia", "Smith", "Okafor", "Williams", "Brown", "Patel", "Jones",
    "Martinez", "Davis", "Kowalski", "Washington", "Lopez", "Kim", "Thompson", "Haddad",
    "Robinson", "Clark", "Rivera", "Lewis", "Walker", "Chen", "Hall", "Young", "Allen",
)  # fmt: skip
# Six streets per district, in the order of DISTRICTS; permits pick seven per ward.
STREETS = (
    "Oak St", "Maple Ave", "Northside Blvd", "Birch Ln", "Quarry Rd", "Elm St",
    "Harbor Dr", "Wharf St", "Anchor Way", "Bay View Rd", "Pier Ave", "Dock Ln",
    "Main St", "Broad St", "Court Sq", "Market St", "Union Ave", "1st St",
    "Eastgate Pkwy", "Cedar St", "Laurel Ave", "Sycamore Dr", "Depot St", "Mill Creek Rd",
    "West End Ave", "Chestnut St", "Park Pl", "Willow Rd", "Spruce St", "Ridge Rd",
    "Southfield Rd", "Magnolia Dr", "Pine St", "Hickory Ln", "Orchard Ave", "Meadow Ct",
    "Millbrook Rd", "Old Mill Rd", "Fox Run", "Hollow Rd", "Church St", "Riverside Dr",
)  # fmt: skip
STREETS_PER_DISTRICT = 6

# What residents write, per request type (in the order of REQUEST_TYPES).
_SAID: dict[str, tuple[str, ...]] = {
    "Pothole": ("Deep pothole in the right lane.", "Pothole by the curb, about a foot across.",
                "Several potholes since the last rain.", "Pothole popped my tire."),
    "Streetlight Out": ("Streetlight out for a week.", "Light flickers on and off all night.",
                        "Two lights out on the block, very dark."),
    "Traffic Signal Malfunction": ("Signal stuck on red.", "Signal flashing yellow all ways.",
                                   "Walk light not working."),
    "Sidewalk Repair": ("Sidewalk heaved by tree roots.", "Cracked slab, a trip hazard.",
                        "Curb ramp broken."),
    "Missed Trash Pickup": ("Trash not picked up today.", "Whole street was skipped.",
                            "Missed again this week."),
    "Bulk Item Pickup": ("Old couch and a mattress.", "Fridge, doors removed.",
                         "Washer and two chairs."),
    "Recycling Cart Request": ("Need a new recycling cart.", "Cart cracked by the truck.",
                               "Moved in, no cart."),
    "Illegal Dumping": ("Tires dumped in the alley.", "Pile of construction debris.",
                        "Bags of trash left by the dumpster."),
    "Graffiti": ("Graffiti on the bus shelter.", "Tags on the side of the store.",
                 "Graffiti on the retaining wall."),
    "Noise Complaint": ("Loud music after midnight.", "Dog barking all day.",
                        "Construction noise before 7am."),
    "Overgrown Lot": ("Grass knee high on vacant lot.", "Weeds blocking the sidewalk.",
                      "Overgrown yard, rats seen."),
    "Abandoned Vehicle": ("Car with flat tires for weeks.", "No plates, not moved in a month.",
                          "Van parked in the same spot since spring."),
}  # fmt: skip
# Who reports without a name, by 311 channel (in the order of CHANNELS_311).
_ANONYMOUS = np.array([0.15, 0.35, 0.30, 0.05, 0.02])

_GENERAL = (
    "Riverton Builders",
    "Keystone Construction",
    "Harbor Point Contracting",
    "Blue Ridge Homes",
    "Carter & Sons Construction",
    "Summit General Contractors",
)
_TRADES: dict[str, tuple[str, ...]] = {
    "Electrical": ("Bright Line Electric", "Volt Masters LLC", "Riverton Electric Co"),
    "Plumbing": ("Pipeworks Plumbing", "Clearwater Plumbing", "A-1 Drain and Sewer"),
    "Mechanical": ("Comfort Air HVAC", "Four Seasons Heating", "CoolFlow Mechanical"),
    "Sign": ("SignCraft Studio", "Riverton Sign Co"),
    "Demolition": ("Wrecking Ball Demolition", "Clear Site Services"),
}  # fmt: skip
_OWNER_BUILDS = {"Residential Alteration": 0.3, "Residential Addition": 0.15, "Sign": 0.1}


def request_columns(table: pa.Table, rng: np.random.Generator) -> dict[str, pa.Array]:
    """reporter_name, reporter_phone, address and description of each 311 request."""
    n = table.num_rows
    district = _index(table["district"], DISTRICTS)
    rtype = _index(table["request_type"], list(REQUEST_TYPES))
    channel = _index(table["channel"], CHANNELS_311)
    anonymous = rng.random(n) < _ANONYMOUS[channel]
    no_phone = anonymous | (rng.random(n) < 0.12)
    name, phone = _names(rng, n, anonymous), _phones(rng, n, no_phone)
    street = district * STREETS_PER_DISTRICT + rng.integers(0, STREETS_PER_DISTRICT, n)
    address = _addresses(rng, street, unit_share=0.06)
    said = _pick(rng, [_SAID[t] for t in REQUEST_TYPES], rtype)
    # Free text is where residents leave what no form asks for: their address, a callback.
    follow_up = rng.random(n)
    with_address = follow_up < 0.2
    with_phone = (follow_up > 0.85) & ~no_phone
    description = pc.if_else(
        pa.array(with_address),
        pc.binary_join_element_wise(said, " Outside ", address, ".", ""),
        pc.if_else(
            pa.array(with_phone),
            pc.binary_join_element_wise(said, " Please call me at ", phone, ".", ""),
            said,
        ),
    )
    return {"address": address, "reporter_name": name, "reporter_phone": phone,
            "description": description}  # fmt: skip


def permit_columns(table: pa.Table, rng: np.random.Generator) -> dict[str, pa.Array]:
    """applicant_name, site_address and contractor of each permit."""
    n = table.num_rows
    ward = _index(table["ward"], WARDS)
    ptype = _index(table["permit_type"], list(PERMIT_TYPES))
    per_ward = len(STREETS) // len(WARDS)
    street = ward * per_ward + rng.integers(0, per_ward, n)
    site = _addresses(rng, street, unit_share=0.03)
    pools = [_TRADES.get(t, _GENERAL) for t in PERMIT_TYPES]
    owner_share = np.array([_OWNER_BUILDS.get(t, 0.0) for t in PERMIT_TYPES])
    owner_builds = rng.random(n) < owner_share[ptype]
    contractor = pc.if_else(
        pa.array(owner_builds), pa.scalar("Owner-builder"), _pick(rng, pools, ptype)
    )
    name = _names(rng, n, np.zeros(n, dtype=bool))
    return {"applicant_name": name, "site_address": site, "contractor": contractor}


def _index(column: pa.ChunkedArray, names: Sequence[str]) -> Ints:
    found: Ints = pc.index_in(column, value_set=pa.array(list(names))).to_numpy()
    return found.astype(np.int64)


def _pick(rng: np.random.Generator, pools: Sequence[Sequence[str]], group: Ints) -> pa.Array:
    """One phrase per row, uniformly from its group's pool."""
    sizes = np.array([len(p) for p in pools])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    draw: Floats = rng.random(len(group))
    chosen = offsets[group] + (draw * sizes[group]).astype(np.int64)
    return labels([s for pool in pools for s in pool], chosen)


def _names(rng: np.random.Generator, n: int, missing: Bools) -> pa.Array:
    first = labels(FIRST_NAMES, rng.integers(0, len(FIRST_NAMES), n))
    last = labels(LAST_NAMES, rng.integers(0, len(LAST_NAMES), n))
    return pc.if_else(
        pa.array(missing),
        pa.scalar(None, pa.string()),
        pc.binary_join_element_wise(first, last, " "),
    )


def _phones(rng: np.random.Generator, n: int, missing: Bools) -> pa.Array:
    area = labels(("540", "804", "434"), rng.integers(0, 3, n))
    line = pc.utf8_lpad(pa.array(rng.integers(0, 100, n)).cast(pa.string()), 2, "0")
    phone = pc.binary_join_element_wise("(", area, ") 555-01", line, "")
    return pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), phone)


def _addresses(rng: np.random.Generator, street: Ints, *, unit_share: float) -> pa.Array:
    """ "1234 Oak St", now and then "1234 Oak St, Apt 5": house numbers 100 to 8999."""
    n = len(street)
    number = pa.array(rng.integers(100, 9000, n)).cast(pa.string())
    address = pc.binary_join_element_wise(number, labels(STREETS, street), " ")
    unit = pa.array(rng.integers(1, 25, n)).cast(pa.string())
    with_unit = pc.binary_join_element_wise(address, unit, ", Apt ")
    return pc.if_else(pa.array(rng.random(n) < unit_share), with_unit, address)
