import json

import pytest

from app.checklists.template import InvalidChecklistTemplate, load_template
from app.main import create_app
from tests.conftest import make_settings
from tests.core.test_errors import assert_problem
from tests.factories import join, make_incident, timeline

DEFAULT_KEYS = [
    "errors_metrics_checked",
    "recent_releases_reviewed",
    "rollback_decided",
    "commander_assigned",
    "sre_joined",
    "stakeholders_notified",
    "recovery_verified",
]


def _url(incident, suffix=""):
    return f"/api/v1/incidents/{incident['id']}/checklist{suffix}"


async def test_every_incident_gets_the_default_checklist(client):
    incident = await make_incident(client)
    items = (await client.get(_url(incident))).json()["items"]
    assert [i["key"] for i in items] == DEFAULT_KEYS
    assert not any(i["done"] for i in items)


async def test_ticking_records_who_when_and_why(client):
    incident = await make_incident(client)
    response = await client.patch(
        _url(incident, "/rollback_decided"),
        json={"done": True, "note": "no: v2 not involved", "by": "alice"},
    )
    item = response.json()
    assert (item["done"], item["done_by"], item["note"]) == (True, "alice", "no: v2 not involved")
    assert item["done_at"] is not None
    entry = (await timeline(client, incident, kind="checklist"))[-1]
    assert entry["author"] == "alice"
    assert entry["data"] == {"key": "rollback_decided", "done": True, "note": "no: v2 not involved"}

    undone = (await client.patch(_url(incident, "/rollback_decided"), json={"done": False})).json()
    assert (undone["done"], undone["done_by"], undone["done_at"]) == (False, None, None)


async def test_commander_and_sre_tick_their_items(client):
    incident = await make_incident(client)
    await join(client, incident, "alice", "commander")
    await join(client, incident, "sam", "sre")
    items = {i["key"]: i for i in (await client.get(_url(incident))).json()["items"]}
    assert items["commander_assigned"]["done"] is True
    assert items["sre_joined"]["done_by"] == "muster"
    assert items["stakeholders_notified"]["done"] is False


async def test_unknown_item_and_bad_body(client):
    incident = await make_incident(client)
    assert_problem(await client.patch(_url(incident, "/nope"), json={"done": True}), 404)
    assert_problem(await client.patch(_url(incident, "/sre_joined"), json={"done": "perhaps"}), 422)
    assert_problem(await client.patch(_url(incident, "/sre_joined"), json={"checked": True}), 422)


async def test_template_from_a_file(tmp_path):
    path = tmp_path / "checklist.yaml"
    path.write_text(
        "- key: paged_db_team\n  label: Database team paged\n"
        "- key: status_page\n  label: Status page updated\n"
    )
    assert [i.key for i in load_template(path).items] == ["paged_db_team", "status_page"]
    as_json = tmp_path / "checklist.json"
    as_json.write_text(json.dumps({"items": [{"key": "one", "label": "One"}]}))
    assert [i.key for i in load_template(as_json).items] == ["one"]


@pytest.mark.parametrize(
    "content",
    [
        "- key: Bad Key\n  label: x\n",
        "[]\n",
        "- key: a\n  label: A\n- key: a\n  label: B\n",
        "{: nope",
    ],
)
def test_an_invalid_template_fails_start_up_clearly(tmp_path, content):
    path = tmp_path / "checklist.yaml"
    path.write_text(content)
    with pytest.raises(InvalidChecklistTemplate, match="MUSTER_CHECKLIST_TEMPLATE"):
        create_app(make_settings("sqlite+aiosqlite:///unused.db", checklist_template=path))


def test_a_missing_template_file_fails_start_up(tmp_path):
    with pytest.raises(InvalidChecklistTemplate, match="not a usable checklist template"):
        load_template(tmp_path / "absent.yaml")
