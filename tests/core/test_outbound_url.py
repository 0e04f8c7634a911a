"""check_outbound_url: where Muster may send notifications (subscriptions, SRE targets)."""

import pytest

from app.core.security import OutboundUrlRefused, check_outbound_url
from app.core.settings import Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T0/B0/x",
        "http://receiver.internal:8080/muster",
        "HTTPS://Example.COM/path?q=1",
        "https://[2606:4700::1111]:8443/hook",
    ],
)
def test_http_and_https_urls_are_allowed_when_no_hosts_are_configured(url):
    assert check_outbound_url(url, settings()) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://localhost:70/", "only http and https"),
        ("ftp://example.com/x", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("example.com/hook", "only http and https"),
        ("https://", "no host"),
        ("http:///path", "no host"),
        ("https://user:pass@example.com/", "credentials"),
        ("https://token@example.com/", "credentials"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://[::1/", "not a valid URL"),
        ("https://a..example.com/", "not a valid URL"),
        (f"https://{'x' * 64}.example.com/", "not a valid URL"),
        ("https://hooks.example.com/\x0e", "control characters"),
        ("https://hooks\x00.example.com/", "control characters"),
        ("https://hooks.example.com/a b", "spaces"),
    ],
)
def test_other_urls_are_refused_with_a_problem(url, why):
    with pytest.raises(OutboundUrlRefused) as refused:
        check_outbound_url(url, settings())
    assert why in refused.value.errors[0].message
    assert refused.value.errors[0].field == "body.url"
    assert refused.value.status == 422


def test_allowed_hosts_limit_where_notifications_go():
    limited = settings(notify_allowed_hosts="hooks.slack.com, *.example.com")
    assert limited.notify_allowed_hosts == ["hooks.slack.com", "*.example.com"]
    for url in (
        "https://hooks.slack.com/services/x",
        "https://HOOKS.slack.com./services/x",
        "https://a.example.com/hook",
        "http://deep.a.example.com:8080/",
    ):
        assert check_outbound_url(url, limited) == url
    for url in (
        "https://example.com/",  # the wildcard names subdomains only
        "https://evilexample.com/",
        "https://hooks.slack.com.evil.test/",
        "https://169.254.169.254/latest/meta-data/",
        "http://localhost:5432/",
    ):
        with pytest.raises(OutboundUrlRefused, match="MUSTER_NOTIFY_ALLOWED_HOSTS"):
            check_outbound_url(url, limited)


def test_allowed_hosts_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MUSTER_NOTIFY_ALLOWED_HOSTS", '["Hooks.Slack.com"]')
    assert settings().notify_allowed_hosts == ["hooks.slack.com"]
    monkeypatch.delenv("MUSTER_NOTIFY_ALLOWED_HOSTS")
    assert settings().notify_allowed_hosts == []


def test_the_field_named_in_the_problem_can_be_chosen():
    with pytest.raises(OutboundUrlRefused) as refused:
        check_outbound_url("ftp://x", settings(), field="sre_notify_urls.0")
    assert refused.value.errors[0].field == "sre_notify_urls.0"


async def test_the_subscriptions_api_enforces_the_allowed_hosts(tmp_path):
    import httpx

    from app.main import create_app
    from tests.conftest import ADMIN_KEY, make_settings

    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/x.db",
        notify_allowed_hosts=["hooks.example.com"],
        dispatcher_enabled=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as http:
            body = {"url": "http://169.254.169.254/latest", "events": ["*"]}
            refused = await http.post("/api/v1/subscriptions", json=body)
            assert refused.status_code == 422
            assert refused.json()["errors"][0]["field"] == "body.url"
            ok = await http.post(
                "/api/v1/subscriptions", json=body | {"url": "https://hooks.example.com/x"}
            )
            assert ok.status_code == 201
            moved = await http.patch(
                f"/api/v1/subscriptions/{ok.json()['id']}", json={"url": "http://10.0.0.1/"}
            )
            assert moved.status_code == 422
            listed = (await http.get("/api/v1/subscriptions")).json()["items"]
            assert [s["url"] for s in listed] == ["https://hooks.example.com/x"]


def test_sre_urls_must_be_allowed_hosts_too():
    from tests.conftest import make_settings

    with pytest.raises(ValueError, match="not in notify_allowed_hosts"):
        make_settings(
            "sqlite+aiosqlite:///x.db",
            notify_allowed_hosts=["hooks.example.com"],
            sre_notify_urls=["http://elsewhere.example.org/sre"],
        )
