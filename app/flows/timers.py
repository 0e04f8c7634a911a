"""Every timer kind Muster knows, and the flow that fires it.

`create_app` and `muster dispatch` hand this mapping to the timer loop
(`app.core.timers.TimerLoop`); a replica claims only the kinds listed here. A new kind
is one entry: its name and an `async def handler(session, timer) -> None`, which runs
in the transaction that marks the timer fired (see ARCHITECTURE.md, "Timers").
"""

from app.action_items.service import OVERDUE_TIMER
from app.core.timers import Handlers
from app.engagement.service import ESCALATION
from app.flows import engagement, updates
from app.flows.action_items import on_overdue

HANDLERS: Handlers = {
    ESCALATION: engagement.on_level_due,
    OVERDUE_TIMER: on_overdue,
    updates.KIND: updates.on_update_due,
}
