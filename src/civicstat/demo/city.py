"""Riverton's city model: districts, call, request and permit types, and their rhythms.

The tables the demo generator draws from, kept apart from the drawing code so that each
reads on its own; the numbers are tuned so the demo plan shows every status.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

DAY: Final = 86_400
HOUR: Final = 3_600
MONTH_DAYS: Final = 30.4375
DATASETS: Final = ("calls_911", "service_requests", "permits")

DISTRICTS: Final = ("Northside", "Harbor", "Downtown", "Eastgate", "West End", "Southfield",
                    "Millbrook")  # fmt: skip
DISTRICT_SHARE = np.array([0.17, 0.13, 0.18, 0.15, 0.14, 0.13, 0.10])
DISTRICT_TRAVEL = np.array([1.00, 1.06, 0.84, 0.98, 0.94, 1.08, 1.30])  # spread-out = slower
# Wireless calls from Harbor and Millbrook hit cell sectors shared with neighbouring
# counties and often arrive as transfers, so they wait in queue more often.
DISTRICT_QUEUE = np.array([0.92, 1.45, 0.85, 0.97, 0.90, 1.02, 1.30])
WARDS: Final = tuple(f"Ward {i}" for i in range(1, 7))


class CallType(NamedTuple):
    agency: str
    priority: int
    share: float
    hours: str  # key of HOUR_PROFILES


CALL_TYPES: Final = {
    "Medical Emergency": CallType("EMS", 1, 0.175, "day"),
    "Cardiac Arrest": CallType("EMS", 1, 0.012, "flat"),
    "Fall Injury": CallType("EMS", 2, 0.055, "day"),
    "Injury Collision": CallType("EMS", 1, 0.025, "rush"),
    "Structure Fire": CallType("FIRE", 1, 0.009, "evening"),
    "Fire Alarm": CallType("FIRE", 2, 0.035, "day"),
    "Vehicle Fire": CallType("FIRE", 2, 0.006, "night"),
    "Traffic Collision": CallType("POLICE", 2, 0.075, "rush"),
    "Domestic Disturbance": CallType("POLICE", 1, 0.065, "evening"),
    "Assault": CallType("POLICE", 1, 0.035, "night"),
    "Shots Fired": CallType("POLICE", 1, 0.012, "night"),
    "Burglary": CallType("POLICE", 2, 0.045, "day"),
    "Suspicious Person": CallType("POLICE", 3, 0.11, "evening"),
    "Welfare Check": CallType("POLICE", 3, 0.085, "day"),
    "Traffic Hazard": CallType("POLICE", 3, 0.05, "rush"),
    "Theft Report": CallType("POLICE", 4, 0.105, "day"),
    "Noise Complaint": CallType("POLICE", 4, 0.081, "night"),
}
AGENCIES: Final = ("POLICE", "FIRE", "EMS")
CHANNELS_911: Final = ("E-911", "Wireless", "Text", "Admin line")
# Channel mix per priority: non-urgent matters come in on the admin line more often.
CHANNEL_BY_PRIORITY = np.array(
    [[0.14, 0.84, 0.012, 0.008], [0.13, 0.80, 0.01, 0.06],
     [0.10, 0.60, 0.01, 0.29], [0.07, 0.45, 0.01, 0.47]]
)  # fmt: skip
CHANNEL_QUEUE = np.array([0.9, 1.0, 1.2, 2.4])  # the admin line yields to 911 lines

# Relative call volume by hour: trough before dawn, peak late afternoon.
DIURNAL = np.array(
    [0.62, 0.52, 0.45, 0.38, 0.35, 0.38, 0.52, 0.72, 0.90, 1.02, 1.10, 1.16,
     1.20, 1.24, 1.30, 1.38, 1.45, 1.46, 1.40, 1.32, 1.22, 1.08, 0.92, 0.76]
)  # fmt: skip
WEEKDAY = np.array([0.98, 0.96, 0.97, 0.99, 1.06, 1.08, 0.96])  # Monday first
SEASON_911 = np.array([0.91, 0.89, 0.95, 0.98, 1.03, 1.08, 1.12, 1.10, 1.03, 1.00, 0.96, 0.95])
HOUR_PROFILES: Final[dict[str, Floats]] = {
    "flat": np.ones(24),
    "day": np.repeat([0.6, 1.2, 0.8], [7, 13, 4]),
    "rush": np.repeat([0.4, 1.7, 1.0, 1.8, 0.7], [6, 4, 5, 4, 5]),
    "evening": np.repeat([1.2, 0.7, 1.4], [3, 12, 9]),
    "night": np.repeat([2.2, 0.5, 1.6], [4, 14, 6]),
}


class RequestType(NamedTuple):
    department: str
    sla_days: int
    per_day: float
    season: str  # key of SEASONS
    median_share_of_sla: float  # typical work time, as a share of the SLA
    spread: float  # sigma of the log work time


REQUEST_TYPES: Final = {
    "Pothole": RequestType("public-works", 5, 24.0, "thaw", 0.45, 0.75),
    "Streetlight Out": RequestType("public-works", 10, 14.0, "winter", 0.40, 0.70),
    "Traffic Signal Malfunction": RequestType("public-works", 1, 3.0, "flat", 0.25, 0.80),
    "Sidewalk Repair": RequestType("public-works", 30, 6.0, "flat", 0.50, 0.65),
    "Missed Trash Pickup": RequestType("sanitation", 2, 30.0, "flat", 0.42, 0.80),
    "Bulk Item Pickup": RequestType("sanitation", 7, 18.0, "spring", 0.50, 0.55),
    "Recycling Cart Request": RequestType("sanitation", 10, 9.0, "flat", 0.45, 0.60),
    "Illegal Dumping": RequestType("sanitation", 5, 10.0, "summer", 0.50, 0.75),
    "Graffiti": RequestType("code-enforcement", 7, 15.0, "summer", 0.55, 0.70),
    "Noise Complaint": RequestType("code-enforcement", 3, 22.0, "summer", 0.45, 0.80),
    "Overgrown Lot": RequestType("code-enforcement", 14, 12.0, "summer", 0.55, 0.65),
    "Abandoned Vehicle": RequestType("code-enforcement", 10, 11.0, "flat", 0.50, 0.75),
}
CHANNELS_311: Final = ("Phone", "Mobile App", "Web Portal", "Email", "Walk-in")
SEASONS: Final[dict[str, Floats]] = {
    "flat": np.ones(12),
    "thaw": np.array([1.5, 2.1, 2.0, 1.5, 1.0, 0.8, 0.7, 0.6, 0.6, 0.6, 0.7, 1.0]),
    "winter": np.array([1.3, 1.2, 1.0, 0.8, 0.7, 0.7, 0.7, 0.8, 0.9, 1.1, 1.3, 1.4]),
    "spring": np.array([0.6, 0.7, 1.1, 1.5, 1.5, 1.3, 1.1, 1.0, 1.0, 1.0, 0.7, 0.6]),
    "summer": np.array([0.6, 0.6, 0.8, 1.0, 1.3, 1.5, 1.6, 1.5, 1.2, 0.9, 0.7, 0.6]),
}


class PermitType(NamedTuple):
    prefix: str  # of the permit number
    per_weekday: float
    review_days: float  # median
    spread: float  # sigma of the log review time
    plan_review: bool  # False: issued over the counter
    valuation: float  # median, dollars
    valuation_spread: float
    work_classes: dict[str, float]


PERMIT_TYPES: Final = {
    "Residential Alteration": PermitType(
        "BLD", 6.5, 9.0, 0.7, True, 38_000, 0.9, {"Alteration": 0.7, "Repair": 0.3}),
    "Residential Addition": PermitType("BLD", 2.0, 16.0, 0.6, True, 95_000, 0.7, {"Addition": 1}),
    "New Single Family": PermitType("BLD", 1.6, 24.0, 0.5, True, 340_000, 0.4, {"New": 1}),
    "Commercial Alteration": PermitType(
        "BLD", 2.9, 20.0, 0.6, True, 160_000, 1.1, {"Alteration": 0.6, "Tenant Improvement": 0.4}),
    "New Commercial": PermitType("BLD", 0.4, 42.0, 0.45, True, 2_600_000, 0.9, {"New": 1}),
    "Demolition": PermitType("DEM", 0.7, 11.0, 0.6, True, 22_000, 0.8, {"Demolition": 1}),
    "Electrical": PermitType(
        "ELE", 7.5, 0.5, 0.7, False, 4_500, 1.0, {"Alteration": 0.5, "Repair": 0.3, "New": 0.2}),
    "Plumbing": PermitType(
        "PLM", 5.0, 0.5, 0.7, False, 3_800, 1.0, {"Alteration": 0.5, "Repair": 0.4, "New": 0.1}),
    "Mechanical": PermitType(
        "MEC", 4.0, 0.6, 0.7, False, 9_000, 0.9, {"Replacement": 0.7, "New": 0.3}),
    "Sign": PermitType("SGN", 1.0, 6.0, 0.7, True, 6_500, 0.8, {"New": 0.8, "Alteration": 0.2}),
}  # fmt: skip
WORK_CLASSES: Final = ("Alteration", "Repair", "Addition", "New", "Tenant Improvement",
                        "Demolition", "Replacement")  # fmt: skip
