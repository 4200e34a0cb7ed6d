#!/usr/bin/env bash
# Builds the benchmark photo set in bench/cache/photos/ from Debian packages: each package is
# fetched with `apt-get download` and unpacked with `dpkg -x` into bench/cache/ (nothing is
# installed). Only real camera and phone photographs between 2 and 18 megapixels are kept, one
# file per distinct photo (the largest size a package ships). Idempotent: a photo already in
# place is not fetched again, and a package is downloaded only if one of its photos is missing.
#
# The set is checked against bench/photos.sha256, so two machines that report numbers for
# "the benchmark set" really processed the same bytes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache="$here/cache"
photos="$cache/photos"
debs="$cache/debs"
mkdir -p "$photos" "$debs"

# package | path inside the package | name in the set
# Licences (see each package's /usr/share/doc/PKG/copyright): plasma-workspace-wallpapers
# LGPL-3/CC-BY-SA, mate-backgrounds GPL-2+/CC-BY-SA, lomiri-wallpapers CC-BY(-SA)-4.0,
# gdk-pixbuf-tests LGPL-2.1+. None of these files is committed to the project.
selection=(
    "gdk-pixbuf-tests|usr/libexec/installed-tests/gdk-pixbuf/issue70.jpg|gdkpixbuf-issue70.jpg"
    "mate-backgrounds|usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg|mate-Elephants.jpg"
    "mate-backgrounds|usr/share/backgrounds/mate/nature/Aqua.jpg|mate-Aqua.jpg"
    "mate-backgrounds|usr/share/backgrounds/mate/nature/Blinds.jpg|mate-Blinds.jpg"
    "mate-backgrounds|usr/share/backgrounds/mate/nature/Garden.jpg|mate-Garden.jpg"
    "mate-backgrounds|usr/share/backgrounds/mate/nature/LadyBird.jpg|mate-LadyBird.jpg"
    "mate-backgrounds|usr/share/backgrounds/mate/nature/RainDrops.jpg|mate-RainDrops.jpg"
    "mate-backgrounds|usr/share/backgrounds/mate/nature/Storm.jpg|mate-Storm.jpg"
    "mate-backgrounds|usr/share/backgrounds/mate/nature/TwoWings.jpg|mate-TwoWings.jpg"
    "mate-backgrounds|usr/share/backgrounds/mate/nature/Wood.jpg|mate-Wood.jpg"
    "mate-backgrounds|usr/share/backgrounds/mate/nature/YellowFlower.jpg|mate-YellowFlower.jpg"
    "plasma-workspace-wallpapers|usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg|plasma-BytheWater.jpg"
    "plasma-workspace-wallpapers|usr/share/wallpapers/ColdRipple/contents/images/2560x1600.jpg|plasma-ColdRipple.jpg"
    "plasma-workspace-wallpapers|usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg|plasma-ColorfulCups.jpg"
    "plasma-workspace-wallpapers|usr/share/wallpapers/DarkestHour/contents/images/2560x1600.jpg|plasma-DarkestHour.jpg"
    "plasma-workspace-wallpapers|usr/share/wallpapers/EveningGlow/contents/images/2560x1600.jpg|plasma-EveningGlow.jpg"
    "plasma-workspace-wallpapers|usr/share/wallpapers/FallenLeaf/contents/images/2560x1600.jpg|plasma-FallenLeaf.jpg"
    "plasma-workspace-wallpapers|usr/share/wallpapers/Grey/contents/images/2560x1600.jpg|plasma-Grey.jpg"
    "plasma-workspace-wallpapers|usr/share/wallpapers/Kite/contents/images/2560x1600.jpg|plasma-Kite.jpg"
    "plasma-workspace-wallpapers|usr/share/wallpapers/OneStandsOut/contents/images/2560x1600.jpg|plasma-OneStandsOut.jpg"
    "plasma-workspace-wallpapers|usr/share/wallpapers/Path/contents/images/2560x1600.jpg|plasma-Path.jpg"
    "plasma-workspace-wallpapers|usr/share/wallpapers/summer_1am/contents/images/2560x1600.jpg|plasma-summer_1am.jpg"
    "lomiri-wallpapers-16.04|usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg|lomiri-Bridge.jpg"
    "lomiri-wallpapers-16.04|usr/share/backgrounds/Dragonfly_by_Bolly.jpg|lomiri-Dragonfly.jpg"
    "lomiri-wallpapers-16.04|usr/share/backgrounds/Picture_0B_by_freespace.jpg|lomiri-Picture_0B.jpg"
    "lomiri-wallpapers-16.04|usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg|lomiri-Wine.jpg"
    "lomiri-wallpapers-16.04|usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg|lomiri-aitzgorri.jpg"
    "lomiri-wallpapers-16.04|usr/share/backgrounds/free_by_Peter_Nerlich.jpg|lomiri-free.jpg"
    "lomiri-wallpapers-16.04|usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg|lomiri-friends.jpg"
    "lomiri-wallpapers-16.04|usr/share/backgrounds/greentock_by_Peter_Nerlich.jpg|lomiri-greentock.jpg"
    "lomiri-wallpapers-16.04|usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg|lomiri-life.jpg"
    "lomiri-wallpapers-16.04|usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg|lomiri-picosdeeuropa.jpg"
    "lomiri-wallpapers-16.04|usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg|lomiri-seeding.jpg"
    "lomiri-wallpapers-16.04|usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg|lomiri-sunset.jpg"
)

# Which packages still have a photo missing.
declare -A needed=()
for row in "${selection[@]}"; do
    IFS='|' read -r pkg inside name <<<"$row"
    [[ -s "$photos/$name" ]] || needed[$pkg]=1
done

if ((${#needed[@]} > 0)); then
    command -v apt-get >/dev/null || { echo "fetch-photos: needs apt-get (Debian)" >&2; exit 1; }
    for pkg in "${!needed[@]}"; do
        if ! compgen -G "$debs/${pkg}_*.deb" >/dev/null; then
            echo "fetch-photos: downloading $pkg" >&2
            # apt-get download writes into the current directory. (Run as root it warns that the
            # _apt user cannot write there: harmless, so that line is filtered out.)
            log=$(mktemp)
            if ! (cd "$debs" && apt-get download -q "$pkg") >"$log" 2>&1 ||
                ! compgen -G "$debs/${pkg}_*.deb" >/dev/null; then
                grep -v unsandboxed "$log" >&2 || true
                rm -f "$log"
                echo "fetch-photos: could not download $pkg (run apt-get update first?)" >&2
                exit 1
            fi
            rm -f "$log"
        fi
        rm -rf "$debs/x-$pkg"
        mkdir -p "$debs/x-$pkg"
        deb=$(compgen -G "$debs/${pkg}_*.deb" | head -n1)
        dpkg -x "$deb" "$debs/x-$pkg"
    done
    for row in "${selection[@]}"; do
        IFS='|' read -r pkg inside name <<<"$row"
        if [[ ! -s "$photos/$name" ]]; then
            src="$debs/x-$pkg/$inside"
            [[ -f "$src" ]] || { echo "fetch-photos: $pkg has no $inside" >&2; exit 1; }
            cp "$src" "$photos/$name.tmp" && mv "$photos/$name.tmp" "$photos/$name"
        fi
    done
    # The unpacked trees are large; the .deb files stay so a re-run needs no network.
    for pkg in "${!needed[@]}"; do rm -rf "$debs/x-$pkg"; done
fi

# Verify the set is the one the recorded results were measured on.
if [[ -f "$here/photos.sha256" ]]; then
    if ! (cd "$photos" && sha256sum --quiet -c "$here/photos.sha256" >&2); then
        echo "fetch-photos: WARNING: the photos differ from bench/photos.sha256 (a newer Debian" \
             "package?); results are not comparable with docs/benchmarks.md" >&2
    fi
fi

# Report: count and megapixels.
count=0
total_px=0
report=""
for row in "${selection[@]}"; do
    IFS='|' read -r pkg inside name <<<"$row"
    w=$(vipsheader -f width "$photos/$name" 2>/dev/null)
    h=$(vipsheader -f height "$photos/$name" 2>/dev/null)
    count=$((count + 1))
    total_px=$((total_px + w * h))
    report+=$(awk -v n="$name" -v w="$w" -v h="$h" -v p="$pkg" \
        'BEGIN { printf "  %-26s %5dx%-5d %5.1f MP  %s\n", n, w, h, w * h / 1e6, p }')$'\n'
done
if [[ "${1:-}" == "-v" || "${1:-}" == "--verbose" ]]; then
    printf '%s' "$report"
fi
bytes=$(cat "$photos"/*.jpg | wc -c)
awk -v c="$count" -v px="$total_px" -v b="$bytes" -v dir="$photos" 'BEGIN {
    printf "fetch-photos: %d JPEG photos, %.1f megapixels in total (%.1f MP on average), %.1f MB, in %s\n",
        c, px / 1e6, px / c / 1e6, b / 1e6, dir }'
