"""The features of the site, in the order create_app wires them: each module's init_app registers its
blueprints, commands, event listeners, access checks and background jobs. Nothing registers itself by
being imported."""
from __future__ import annotations

from matchmaker import accounts, api, deals, demo, fairs, imports, listings, main, matching, stats

FEATURES = (main, accounts, listings, imports, matching, deals, stats, fairs, demo, api)
