# The live map's browser test needs Debian's Chromium (Playwright drives it by executable path;
# `playwright install` would download a browser build, which this network does not allow) and
# CJK fonts so the page's Chinese labels render.
CHROMIUM ?= /usr/bin/chromium
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

.PHONY: web-browser web-tools web-vendor

web-browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -f $(CJK_FONT) ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

# node runs the map's JavaScript in tests (datum.js, replay_logic.js); missing, they fail (issue 15).
web-tools:
	@command -v node >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs; }
	@command -v npm >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }

# The map library (issue 13): MapLibre GL JS from the npm registry, pinned in web/package.json and
# web/package-lock.json, copied to api/static/vendor/ (gitignored) where the API serves it. The
# page never loads anything from a CDN. MapLibre 6 ships ES modules only: the page imports
# maplibre-gl.mjs, which starts its worker from maplibre-gl-worker.mjs beside it (same origin,
# so the page's CSP needs no blob: worker). The stamp makes a second run instant.
VENDOR := api/static/vendor/maplibre-gl
VENDOR_STAMP := $(VENDOR)/.stamp
MAPLIBRE_DIST := web/node_modules/maplibre-gl/dist

web-vendor: $(VENDOR_STAMP)

$(VENDOR_STAMP): web/package.json web/package-lock.json | web-tools
	cd web && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp $(MAPLIBRE_DIST)/maplibre-gl.mjs $(MAPLIBRE_DIST)/maplibre-gl-worker.mjs \
		$(MAPLIBRE_DIST)/maplibre-gl.css web/node_modules/maplibre-gl/LICENSE.txt $(VENDOR)/
	touch $@

test: web-browser web-tools web-vendor
demo: web-vendor
