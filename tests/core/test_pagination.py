async def _make_keys(client, count: int) -> list[str]:
    ids = []
    for n in range(count):
        response = await client.post(
            "/api/v1/api-keys", json={"name": f"k{n}", "scopes": ["admin"]}
        )
        ids.append(response.json()["id"])
    return ids


async def test_pages_walk_newest_first_without_gaps_or_repeats(client):
    created = await _make_keys(client, 5)
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/api-keys", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))


async def test_rows_inserted_while_paging_do_not_shift_pages(client):
    created = await _make_keys(client, 4)
    first = (await client.get("/api/v1/api-keys", params={"limit": 2})).json()
    await _make_keys(client, 3)
    second = (
        await client.get("/api/v1/api-keys", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [i["id"] for i in first["items"] + second["items"]] == list(reversed(created))
    assert second["next_cursor"] is None


async def test_limit_bounds_and_bad_cursor_are_problems(client):
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "not-a-cursor"}, {"cursor": "WzFd"}):
        response = await client.get("/api/v1/api-keys", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"].startswith("query.")
