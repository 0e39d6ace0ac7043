# The live map's browser test needs Debian's Chromium (Playwright drives it by executable path;
# `playwright install` would download a browser build, which this network does not allow) and
# CJK fonts so the page's Chinese labels render. The page itself is plain JS: no npm step.
CHROMIUM ?= /usr/bin/chromium
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

.PHONY: web-browser web-tools

web-browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -f $(CJK_FONT) ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

# node runs the map's JavaScript in tests (datum.js, replay_logic.js); missing, they fail (issue 15).
web-tools:
	@command -v node >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs; }

test: web-browser web-tools
