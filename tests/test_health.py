async def test_healthz_reports_database_and_redis_reachable(http):
    async with http.get("/healthz") as response:
        body = await response.json()
    assert response.status == 200, body
    assert body == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_security_headers_on_every_page(http):
    async with http.get("/healthz") as response:
        headers = response.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
