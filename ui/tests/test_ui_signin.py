"""Sign-in, through FastAPI's TestClient on a real assistant (``tiny``): the app's own login
form and signed session cookie (password mode), a trusted reverse-proxy header, and the
anonymous user. Every cookie and header here is treated as hostile input.
"""

from __future__ import annotations

import base64
import re
import stat
from typing import Any

import pytest
from fastapi.testclient import TestClient

from inhouse.errors import ConfigError
from inhouse_ui.sessions import COOKIE, SECRET_FILE, VISITOR_COOKIE, Sessions, load_secret
from inhouse_ui.settings import UISettings
from ui_support import USERS, doc_id, password_users, sign_in_client

pytestmark = pytest.mark.model  # MiniLM (once per session, for the tiny corpus)


@pytest.fixture(scope="module")
def app(tiny: Any) -> Any:
    """The page with passwords for ``USERS``."""
    from inhouse_ui.server import build_app

    return build_app(tiny, password_users())


@pytest.fixture
def client(app: Any) -> TestClient:
    """A browser: a TestClient with its own cookies, not signed in."""
    return TestClient(app)


def cookie_of(response: Any) -> str:
    """The session cookie a response sets."""
    return response.cookies[COOKIE]


def signed_out(client: TestClient, tiny: Any, cookie: str | None) -> bool:
    """Whether a request carrying ``cookie`` is treated as nobody's, on the page and on /files."""
    client.cookies.clear()
    headers = {"Cookie": f"{COOKIE}={cookie}".encode()} if cookie is not None else {}
    page = client.get("/", headers=headers, follow_redirects=False)
    original = client.get(f"/files/{doc_id(tiny, 'parking.md')}", headers=headers)
    gradio = client.get("/config", headers=headers)
    if page.status_code == 303 and original.status_code == 401 and gradio.status_code == 401:
        assert page.headers["location"] == "login" and original.json() == {"detail": "sign in first"}
        return True
    assert (page.status_code, original.status_code, gradio.status_code) == (200, 200, 200)
    return False


def test_a_browser_that_is_not_signed_in_gets_the_login_form(client: TestClient, tiny: Any) -> None:
    assert signed_out(client, tiny, None)
    form = client.get("/login")
    assert form.status_code == 200 and form.headers["content-type"].startswith("text/html")
    html = form.text
    assert 'method="post" action="login"' in html and 'name="name"' in html and 'type="password"' in html
    assert "frame-ancestors 'none'" in form.headers["content-security-policy"]
    assert form.headers["x-frame-options"] == "DENY" and form.headers["cache-control"] == "no-store"
    image = client.get("/images/abcdefgh")
    assert image.status_code == 401 and image.json() == {"detail": "sign in first"}
    assert client.get("/health").json()["status"] == "ok"  # no sign-in needed


def test_a_wrong_password_or_unknown_name_stays_on_the_login_form(client: TestClient, tiny: Any) -> None:
    wrong = sign_in_client(client, "ana", "bob-pw")
    unknown = sign_in_client(client, "nobody", "ana-pw")
    empty = sign_in_client(client, "", "")
    for response in (wrong, unknown, empty):
        assert response.status_code == 401 and COOKIE not in response.cookies
        assert "Wrong name or password." in response.text and 'action="login"' in response.text
    assert wrong.text.replace('value="ana"', "") == unknown.text.replace('value="nobody"', "")  # nothing to tell apart
    assert signed_out(client, tiny, None)


def test_a_good_password_sets_a_session_cookie_for_the_page_and_the_files(client: TestClient, tiny: Any) -> None:
    response = sign_in_client(client, "ana", USERS["ana"])
    assert response.status_code == 303 and response.headers["location"] == "./"
    header = response.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=lax", "path=/", "max-age=43200"):
        assert attribute in header, header
    assert "secure" not in header  # plain http: a Secure cookie would never come back
    page = client.get("/")
    assert page.status_code == 200 and '"username":"ana"' in page.text.replace(" ", "")
    assert client.get(f"/files/{doc_id(tiny, 'salary-ana.md')}").status_code == 200  # her own document
    assert client.get("/config").status_code == 200  # Gradio agrees: same user function
    again = client.get("/login", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "./"


def test_over_https_the_cookie_is_secure(app: Any) -> None:
    client = TestClient(app, base_url="https://testserver")
    header = sign_in_client(client, "bob", USERS["bob"]).headers["set-cookie"].lower()
    assert "secure" in header and "httponly" in header


def test_tampered_cookies_are_refused(client: TestClient, tiny: Any) -> None:
    good = cookie_of(sign_in_client(client, "ana", USERS["ana"]))
    assert not signed_out(client, tiny, good)
    name, expiry, signature = good.split(".")
    bob = base64.urlsafe_b64encode(b"bob").rstrip(b"=").decode()
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    other = Sessions(b"x" * 64, {"ana": USERS["ana"]}, 3600).issue("ana")  # another server's secret
    forged = [
        f"{bob}.{expiry}.{signature}",  # someone else's name, ana's signature
        f"{name}.{int(expiry) + 3600}.{signature}",  # a longer session
        f"{name}.{expiry}.{flipped}",
        f"{name}.{expiry}",
        f"{good}.x",
        good + "A",
        other,
        "",
        "x" * 5000,
        "\u00e9" + good,
        f"{name}.{expiry}.{signature}".replace(".", "%2E"),
        f"{name}==.{expiry}.{signature}",
    ]
    for value in forged:
        assert signed_out(client, tiny, value), value


def test_expired_cookies_and_changed_passwords_end_a_session(tiny: Any, app: Any) -> None:
    from inhouse_ui.server import build_app

    secret = load_secret(tiny.home)
    expired = Sessions(secret, USERS, 3600, clock=lambda: 1_000_000.0).issue("ana")
    too_long = Sessions(secret, USERS, 24 * 3600 * 365).issue("ana")  # longer than [ui] session_hours
    fresh = Sessions(secret, USERS, 3600).issue("ana")
    client = TestClient(app)
    assert signed_out(client, tiny, expired) and signed_out(client, tiny, too_long)
    assert not signed_out(client, tiny, fresh)
    changed = TestClient(build_app(tiny, password_users({**USERS, "ana": "new-pw"})))
    assert signed_out(changed, tiny, fresh)  # her old password's sessions are over
    removed = TestClient(build_app(tiny, password_users({"bob": USERS["bob"]})))
    assert signed_out(removed, tiny, fresh)


def test_sessions_survive_a_restart_and_the_secret_is_private(client: TestClient, tiny: Any) -> None:
    from inhouse_ui.server import build_app

    cookie = cookie_of(sign_in_client(client, "cleo", USERS["cleo"]))
    path = tiny.home / SECRET_FILE
    before = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    restarted = TestClient(build_app(tiny, password_users()))
    assert not signed_out(restarted, tiny, cookie)
    assert path.read_bytes() == before


def test_a_missing_secret_is_made_and_a_damaged_one_is_an_error(tmp_path: Any) -> None:
    from inhouse.errors import ConfigError

    secret = load_secret(tmp_path / "home")
    assert len(secret) >= 43 and load_secret(tmp_path / "home") == secret
    assert stat.S_IMODE((tmp_path / "home" / SECRET_FILE).stat().st_mode) == 0o600
    (tmp_path / "home" / SECRET_FILE).write_text("short\n")
    with pytest.raises(ConfigError, match="not a session secret"):
        load_secret(tmp_path / "home")


def test_signing_out_removes_the_cookie(client: TestClient, tiny: Any) -> None:
    for method in ("POST", "GET"):
        sign_in_client(client, "dev", USERS["dev"])
        assert client.get("/", follow_redirects=False).status_code == 200
        out = client.request(method, "/logout", follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "login"
        assert "max-age=0" in out.headers["set-cookie"].lower()
        assert client.get("/", follow_redirects=False).status_code == 303
        assert client.get(f"/files/{doc_id(tiny, 'parking.md')}").status_code == 401


def test_forms_posted_from_another_site_are_refused(client: TestClient) -> None:
    cross = {"Sec-Fetch-Site": "cross-site"}
    response = client.post("/login", data={"name": "ana", "password": USERS["ana"]}, headers=cross)
    assert response.status_code == 403 and COOKIE not in response.cookies
    sign_in_client(client, "ana", USERS["ana"])
    assert client.post("/logout", headers=cross, follow_redirects=False).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in


def test_the_login_form_bounds_what_it_reads_and_escapes_what_it_echoes(client: TestClient) -> None:
    huge = client.post(
        "/login", content=b"name=ana&password=" + b"x" * 10_000, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert huge.status_code == 413
    many = client.post(
        "/login",
        content="&".join(f"f{i}=1" for i in range(50)).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert many.status_code == 401
    echoed = sign_in_client(client, '"><script>alert(1)</script>', "x")
    assert "<script>alert(1)" not in echoed.text and "&lt;script&gt;alert(1)" in echoed.text


def test_repeated_wrong_passwords_for_a_name_are_throttled(tiny: Any) -> None:
    from inhouse_ui.server import build_app

    client = TestClient(build_app(tiny, password_users()))
    for _ in range(10):
        assert sign_in_client(client, "erin", "guess").status_code == 401
    blocked = sign_in_client(client, "erin", USERS["erin"])
    assert blocked.status_code == 429 and COOKIE not in blocked.cookies
    assert sign_in_client(client, "bob", USERS["bob"]).status_code == 303  # others sign in as usual


def test_a_proxy_header_means_nothing_in_password_mode(client: TestClient, tiny: Any) -> None:
    forged = {"X-Forwarded-User": "ana", "X-Remote-User": "ana"}
    assert client.get("/", headers=forged, follow_redirects=False).status_code == 303
    assert client.get(f"/files/{doc_id(tiny, 'salary-ana.md')}", headers=forged).status_code == 401


def test_a_trusted_header_names_the_user(tiny: Any) -> None:
    from inhouse_ui.server import build_app

    client = TestClient(build_app(tiny, {"trusted_header": "X-Forwarded-User"}), client=("127.0.0.1", 40000))
    private = f"/files/{doc_id(tiny, 'salary-ana.md')}"
    assert client.get("/").status_code == 401  # no header: nobody (Gradio's answer, as before)
    assert client.get(private).status_code == 401 and client.get("/config").status_code == 401
    page = client.get("/", headers={"X-Forwarded-User": "ana"})
    assert page.status_code == 200 and '"username":"ana"' in page.text.replace(" ", "")
    assert client.get(private, headers={"X-Forwarded-User": "ana"}).status_code == 200
    assert client.get(private, headers={"X-Forwarded-User": "bob"}).status_code == 404
    for hostile in ("   ", "ana\x01", "x" * 201):
        assert client.get(private, headers={"X-Forwarded-User": hostile}).status_code == 401, hostile
    response = client.post("/login", data={"name": "ana", "password": "x"}, follow_redirects=False)
    assert COOKIE not in response.cookies  # no password sign-in here


def test_the_header_counts_only_once_and_only_from_a_trusted_proxy(tiny: Any) -> None:
    """Finding 7: any client that reached the server could name any user, and of a repeated
    header the first copy won."""
    from inhouse_ui.server import build_app

    private = f"/files/{doc_id(tiny, 'salary-ana.md')}"
    ana = {"X-Forwarded-User": "ana"}
    default = build_app(tiny, {"trusted_header": "X-Forwarded-User"})
    direct = TestClient(default, client=("192.0.2.7", 40000))  # not a proxy: loopback only by default
    assert direct.get(private, headers=ana).status_code == 401 and direct.get("/config", headers=ana).status_code == 401
    proxied = build_app(tiny, {"trusted_header": "X-Forwarded-User", "trusted_proxies": ["10.1.0.0/16", "192.0.2.9"]})
    for host, status in (("10.1.2.3", 200), ("192.0.2.9", 200), ("192.0.2.7", 401), ("127.0.0.1", 401)):
        assert TestClient(proxied, client=(host, 40000)).get(private, headers=ana).status_code == status, host
    twice = [("X-Forwarded-User", "ana"), ("X-Forwarded-User", "bob")]
    loopback = TestClient(default, client=("127.0.0.1", 40000))
    assert loopback.get(private, headers=twice).status_code == 401
    assert loopback.get("/config", headers=twice).status_code == 401
    with pytest.raises(ConfigError, match="trusted_proxies"):
        UISettings.from_mapping({"trusted_header": "X-User", "trusted_proxies": ["proxy.example.com"]})


def test_each_anonymous_visitor_has_their_own_signed_visitor_id(tiny: Any) -> None:
    """Finding 7: in the anonymous mode every visitor shared one "personal" collection."""
    from inhouse_ui.server import build_app

    app = build_app(tiny, None)
    first, second = TestClient(app), TestClient(app)
    pages = [client.get("/", follow_redirects=False) for client in (first, second)]
    names = [re.search(r'"username":"([^"]+)"', page.text.replace(" ", "")).group(1) for page in pages]
    assert all(page.status_code == 200 for page in pages)
    assert names[0].startswith("visitor-") and names[1].startswith("visitor-") and names[0] != names[1]
    header = pages[0].headers["set-cookie"].lower()
    assert VISITOR_COOKIE in header and "httponly" in header and "samesite=lax" in header
    again = first.get("/", follow_redirects=False)  # the cookie keeps the visitor
    assert f'"username":"{names[0]}"' in again.text.replace(" ", "") and "set-cookie" not in again.headers
    assert first.get(f"/files/{doc_id(tiny, 'parking.md')}").status_code == 200
    assert first.get(f"/files/{doc_id(tiny, 'salary-ana.md')}").status_code == 404  # someone's personal document
    value = first.cookies[VISITOR_COOKIE]
    forged = TestClient(app)
    forged.cookies.set(VISITOR_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    page = forged.get("/", follow_redirects=False)
    assert f'"username":"{names[0]}"' not in page.text.replace(" ", "")  # a forged id is a new visitor


@pytest.mark.parametrize(
    ("ui", "host", "warned"),
    [
        ({}, "0.0.0.0", "no sign-in"),
        ({}, "::", "no sign-in"),
        ({}, "127.0.0.1", None),
        ({"trusted_header": "X-User"}, "10.0.0.4", "trusted_proxies"),
        ({"trusted_header": "X-User", "trusted_proxies": ["10.0.0.5"]}, "10.0.0.4", None),
        (password_users(), "0.0.0.0", None),
    ],
)
def test_serving_beyond_this_machine_warns_of_what_is_open(ui: dict[str, Any], host: str, warned: str | None) -> None:
    """Finding 7: ``serve --host 0.0.0.0`` warned of nothing."""
    from inhouse_ui.server import exposure_warnings

    warnings = exposure_warnings(UISettings.from_mapping(ui), host)
    if warned is None:
        assert warnings == []
    else:
        [warning] = warnings
        assert host in warning and warned in warning and "[ui]" in warning


def test_passwords_are_secret_in_the_settings() -> None:
    """Finding 9: ``UIUser.password`` was a plain string, printed in reprs and errors."""
    settings = UISettings.from_mapping({"users": [{"name": "ana", "password": "hunter2-secret"}]})
    assert "hunter2-secret" not in repr(settings) and "hunter2-secret" not in str(settings.model_dump())
    assert settings.passwords() == {"ana": "hunter2-secret"}
    with pytest.raises(ConfigError) as error:
        UISettings.from_mapping({"users": [{"name": "ana", "password": "hunter2-secret"}], "session_hours": 0})
    assert "hunter2-secret" not in str(error.value)


def test_a_name_that_is_not_ascii_signs_in(tiny: Any) -> None:
    from inhouse_ui.server import build_app

    client = TestClient(build_app(tiny, password_users({"Zoë Ångström": "zoë-pw"})))
    assert sign_in_client(client, "Zoë Ångström", "zoë-pw").status_code == 303
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 200 and '"username":"Zoë Ångström"' in page.text
    assert sign_in_client(client, "Zoe Angstrom", "zoë-pw").status_code == 401


def test_session_hours_must_be_positive() -> None:
    assert UISettings.from_mapping({"session_hours": 1}).session_hours == 1
    with pytest.raises(ConfigError, match="session_hours"):
        UISettings.from_mapping({"session_hours": 0})
