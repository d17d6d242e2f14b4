"""The explorer for hosts: `streamlit run serve.py` serves app.py and adds a readiness check.

GET /ready answers 503 (with what the server is still doing) until the bundled model is loaded and
has traced the default text, then 200 (its body's second line: whether the start-up has compiled UMAP
for the Projections page yet); a load balancer or Docker's HEALTHCHECK polls it. The
warm-up starts with the server, before the first visitor. `streamlit run app.py` serves the same
app without /ready (the warm-up then starts with the first visitor).
"""

from contextlib import asynccontextmanager

import streamlit as st
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ui import startup


async def ready(request):
    if startup.model_ready():  # ready for visitors; the second line says whether UMAP is compiled yet
        return PlainTextResponse(f"ready\nprojections: {startup.projections_stage()}\n", headers={"Cache-Control": "no-cache"})
    return PlainTextResponse(f"starting: {startup.stage()}\n", status_code=503, headers={"Cache-Control": "no-cache"})


@asynccontextmanager
async def warm_at_start(app):
    startup.begin()
    yield


app = st.App("app.py", routes=[Route("/ready", ready, methods=["GET", "HEAD"])], lifespan=warm_at_start)
