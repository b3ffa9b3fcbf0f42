"""Pure performance-management model: targets, status, periods. No I/O, no frameworks."""
