"""What the live map page needs to draw: basemap template and datum, start view, districts."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, SettingsDep

router = APIRouter(prefix="/api", tags=["map"])

# Wuxi's districts and county-level cities (DOMAIN.md), Chinese name → English.
DISTRICTS = {
    "梁溪": "Liangxi",
    "锡山": "Xishan",
    "惠山": "Huishan",
    "滨湖": "Binhu",
    "新吴": "Xinwu",
    "经开": "Jingkai",
    "江阴": "Jiangyin",
    "宜兴": "Yixing",
}


@router.get("/map-config")
def map_config(who: CurrentUser, settings: SettingsDep) -> dict:
    """Basemap and initial view for the caller."""
    return {
        "tile_url": settings.tile_url,
        "tile_datum": settings.tile_datum,
        "tile_attribution": settings.tile_attribution,
        "center": list(settings.map_center),
        "zoom": settings.map_zoom,
        "districts": DISTRICTS,
        "user": {"username": who.username, "role": who.role.value, "district": who.district},
    }
