"""From contact to contract: introductions, the broker's deals, technology contracts and their import."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from matchmaker.core import jobs, permissions
    from matchmaker.deals import contract_import, conversation, deals, introductions
    from matchmaker.deals.views import contracts as contract_views
    from matchmaker.deals.views import deals as deal_views
    from matchmaker.deals.views import introductions as introduction_views

    for blueprint in (introduction_views.bp, deal_views.bp, contract_views.bp):
        app.register_blueprint(blueprint)
    # A counterpart whose introduction the owner accepted sees a confidential listing's details.
    permissions.add_detail_access_check(app, introductions.has_accepted_introduction)
    jobs.register(app, "introductions.remind_and_expire", introductions.remind_and_expire, every=3600)
    jobs.register(app, "deals.remind_next_actions", deals.remind_next_actions, every=3600)
    jobs.register(app, "conversation.mail_message", conversation.mail_message)
    jobs.register(app, contract_import.READ_JOB, contract_import.read_upload,
                  time_limit=app.config["IMPORT_READ_TIME_LIMIT"])
    jobs.register(app, "contracts.fail_stale_reads", contract_import.fail_stale_reads, every=60)
