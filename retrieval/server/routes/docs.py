"""The OpenAPI docs at ``/docs``, with Swagger UI served from the installed package (no CDN: no network here)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import Response
from swagger_ui_bundle import swagger_ui_path

router = APIRouter(include_in_schema=False)
# fixed files, read once: no route reads a path taken from a request
ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
_CACHE: dict[str, bytes] = {}


def _asset(name: str) -> Response:
    if name not in _CACHE:
        _CACHE[name] = (swagger_ui_path / name).read_bytes()
    return Response(_CACHE[name], media_type=ASSETS[name], headers={"Cache-Control": "max-age=86400"})


@router.get("/docs")
async def docs():
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="retrieval API",
        swagger_js_url="/docs/swagger-ui-bundle.js",
        swagger_css_url="/docs/swagger-ui.css",
        swagger_favicon_url="/docs/favicon-32x32.png",
    )


@router.get("/docs/swagger-ui-bundle.js")
async def swagger_js():
    return _asset("swagger-ui-bundle.js")


@router.get("/docs/swagger-ui.css")
async def swagger_css():
    return _asset("swagger-ui.css")


@router.get("/docs/favicon-32x32.png")
async def favicon():
    return _asset("favicon-32x32.png")
