from litestar import get
from ovoz import ledger

async def test_x(client):
    @get("/boom", include_in_schema=False)
    async def boom() -> str:
        raise RuntimeError("kaboom-secret")
    @get("/api/v1/boom", include_in_schema=False)
    async def boom2() -> str:
        raise RuntimeError("kaboom-secret")
    client.app.register(boom)
    client.app.register(boom2)
    r = await client.get("/boom?lang=ru")
    print(r.status_code, r.headers, r.text[-900:])
    r = await client.get("/api/v1/boom")
    print(r.status_code, r.headers, r.text)
    await ledger.record("test.thing", "thing:1", {"n": 1})
    r = await client.get("/?lang=en")
    print(r.text[-600:])
    async with client.stream("GET", "/", headers={"accept-encoding": "gzip"}) as s:
        raw = b"".join([c async for c in s.aiter_raw()])
        print(len(raw), s.headers)
