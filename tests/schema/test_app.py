import httpx
from asgi_lifespan import LifespanManager

from catalogue.config import Settings
from schema.app import create_app


async def test_landing_and_health_answer_over_http(tmp_path):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'l.sqlite'}")
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            landing = await client.get("/")
            health = await client.get("/health")
    assert landing.status_code == 200
    assert landing.json()["service"] == "lakecat"
    assert health.json() == {"status": "ok", "rses": 0}
