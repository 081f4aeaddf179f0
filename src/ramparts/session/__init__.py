"""Agent sessions: their state across hook calls (limits, kill switch, taint, step-up grants).

:mod:`ramparts.session.store` keeps it in SQLite; :mod:`ramparts.session.process` finds and ends the
agent's processes. Nothing is imported here: the hook imports the store on every call.
"""
