#!/usr/bin/env bash
# Copies what real-font training and evaluation draw from, cut down to travel to a GPU machine:
#   OUT/fonts   every .ttf/.otf under /usr/share/fonts (with "first": only those of the first catalogue's packages,
#               see fonts.sh), subset to the glyphs labels use (A-Z, 0-9, space), names kept, so FontCatalog
#               splits the families as it does here
#   OUT/photos  the nature photographs of mate-backgrounds, unchanged
# There: VIREO_FONT_DIRS=OUT/fonts VIREO_PHOTO_DIRS=OUT/photos vireo train ... (or vireo eval ...).
# Usage: infra/scripts/training-assets.sh OUT [first]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/fonts.sh"
out=${1:?usage: training-assets.sh OUT [first]}
catalogue=${2:-all}
[[ $catalogue == all || $catalogue == first ]] || fail "unknown catalogue '$catalogue': give first, or nothing for every installed font"
fonts_src=/usr/share/fonts photos_src=/usr/share/backgrounds/mate/nature
[[ -d $photos_src ]] || fail "$photos_src is missing: run ./vireo install first"
# Font files, relative to $fonts_src, NUL-separated.
font_files() {
  if [[ $catalogue == first ]]; then
    dpkg -L "${VIREO_FONTS_FIRST[@]}" | grep -E "^$fonts_src/.*\.(ttf|otf)$" | sort -u |
      while IFS= read -r f; do if [[ -f $f && ! -L $f ]]; then printf './%s\0' "${f#"$fonts_src"/}"; fi; done
  else
    (cd "$fonts_src" && find . -type f \( -name '*.ttf' -o -name '*.otf' \) -print0)
  fi
}
command -v pyftsubset >/dev/null || { say "installing fonttools (pyftsubset)"; apt-get install -y -q fonttools >/dev/null; }
glyphs="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
rm -rf "$out/fonts" "$out/photos"
mkdir -p "$out/fonts" "$out/photos"
font_files |
  while IFS= read -r -d '' font; do
    mkdir -p "$out/fonts/$(dirname "$font")"
    pyftsubset "$fonts_src/$font" --text="$glyphs" --layout-features='*' --name-IDs='*' --name-languages='*' \
      --name-legacy --notdef-outline --output-file="$out/fonts/$font" 2>/dev/null || fail "could not subset $font"
  done
cp "$photos_src"/*.jpg "$out/photos/"
say "$(find "$out/fonts" -type f | wc -l) fonts and $(find "$out/photos" -type f | wc -l) photographs in $out ($(du -sh "$out" | cut -f1))"
