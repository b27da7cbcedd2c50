"""Matchmaking fairs: setup, registration, suggestions and requests, scheduling, printouts, check-in,
outcomes and the fair report. One blueprint (`fairs.*` endpoints); each module adds its routes to it."""
from __future__ import annotations

from matchmaker.fairs.views import onsite, printouts, registration, report, requests, schedule, setup
from matchmaker.fairs.views._common import bp

__all__ = ["bp", "onsite", "printouts", "registration", "report", "requests", "schedule", "setup"]
