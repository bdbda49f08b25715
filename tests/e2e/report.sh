#!/usr/bin/env bash
# `tessera report` (docs/report.md) seen in a real browser, on three pages:
#   demo     the demo run (configs/demo.yaml: the article's U-Net on roads, as scripts/demo.sh
#            trains it; here 8 steps on tiny synthetic data), evaluated, `tessera report RUN`;
#   one      the article's U-Net on denoising (configs/ci/denoise.yaml, filters 16, depth 4, not
#            residual), evaluated: the eval table has the noisy-input baseline;
#   article  the article's comparison: that U-Net and the article's autoencoder
#            (model.arch=autoencoder, no skip connections) on the same data, steps and settings,
#            both evaluated, in one `tessera report A B --out`.
# All runs train with mpirun -np 2. Headless Chromium (Debian's chromium) loads each page from a
# file:// URL, dumps the DOM it built and takes a 1200x3000 screenshot; report_check.py then
# asserts: no console message (the page has no script: an exception, a Content-Security-Policy
# refusal or a failed load would show there), the curves (SVG paths with points), the
# validation points, the gallery (<img> elements whose data: URIs decode as PNG), the eval table,
# the comparison's config diff, no resource outside the page, and a screenshot that is not blank.
# Controls (each must make its check fail): the report with an injected
# <script>throw new Error(...)</script> (console), with an <img> from the network (console: the
# page's CSP refuses it), a blank page (screenshot) and the report with its <img> elements removed
# (gallery). Errors: a missing run directory and a damaged metrics.jsonl are refused, naming the
# file, and leave no report behind.
# The screenshots and pages are kept in $TESSERA_BINARY_DIR/tests/e2e/report-output/ (printed at
# the end; never committed; docs/report.md describes them). ~1-2 min on 2 cores.
source "$(dirname "$0")/lib.sh"
t0=$(date +%s)
CHECK=$TESSERA_SOURCE_DIR/tests/e2e/report_check.py
KEEP=${TESSERA_BINARY_DIR:-$WORK}/tests/e2e/report-output
command -v chromium >/dev/null || fail "chromium is not installed (scripts/setup.sh installs it)"
mkdir -p "$KEEP" chromium-home
rm -f "$KEEP"/*.png "$KEEP"/*.html

synth denoise data
CFG=$TESSERA_SOURCE_DIR/configs/ci/denoise.yaml
common=(--set data.train=data/train --set data.val=data/val --set data.test=data/test
        --set experiment.output_dir=out --set train.max_steps=8 --set train.log_every=1
        --set train.eval_every=2 --set train.checkpoint_every=4 --set model.filters=16
        --set model.depth=4 --set model.residual=false)
for arch in unet ae; do
  a=$([ $arch = ae ] && echo autoencoder || echo unet)
  expect_ok "train-$arch" mpi "train-$arch" 2 180 train "$CFG" "${common[@]}" \
    --set experiment.name=$arch --set model.arch=$a
  expect_ok "eval-$arch" mpi "eval-$arch" 2 180 eval "$CFG" "${common[@]}" \
    --set experiment.name=$arch --set model.arch=$a --checkpoint best --split test
  [ -f out/$arch/eval/summary.json ] || fail "tessera eval wrote no out/$arch/eval/summary.json"
done
# The demo run: configs/demo.yaml as scripts/demo.sh trains it, on tiny data and few steps.
synth roads roads
demo=(--set data.train=roads/train --set data.val=roads/val --set data.test=roads/test
      --set experiment.output_dir=out --set train.max_steps=8 --set train.log_every=1
      --set train.eval_every=2 --set train.checkpoint_every=4 --set schedule.warmup_steps=1
      --set data.image_size=32)
expect_ok train-demo mpi train-demo 2 180 train "$TESSERA_SOURCE_DIR/configs/demo.yaml" "${demo[@]}"
expect_ok eval-demo mpi eval-demo 2 180 eval "$TESSERA_SOURCE_DIR/configs/demo.yaml" "${demo[@]}" \
  --checkpoint best --split test
expect_ok report-demo run report-demo 60 "$TESSERA_BIN" report out/demo

expect_ok report-one run report-one 60 "$TESSERA_BIN" report out/unet
[ -s out/unet/report.html ] || fail "tessera report out/unet wrote no out/unet/report.html"
expect_ok report-two run report-two 60 "$TESSERA_BIN" report out/unet out/ae --out both.html
expect_log report-two "reading run 2/2: out/ae"
ls -a out/unet | grep -q 'report.html.tmp' && fail "a temporary file was left in out/unet"

# Errors name the file and what was expected; nothing is written.
run missing 30 "$TESSERA_BIN" report out/unet out/nope --out missing.html &&
  fail "a missing run directory was accepted"
expect_log missing "RUN_DIR out/nope: no such directory"
cp -r out/ae broken
echo 'not json' >>broken/metrics.jsonl
run damaged 30 "$TESSERA_BIN" report broken && fail "a damaged metrics.jsonl was accepted"
expect_log damaged "broken/metrics.jsonl line"
expect_log damaged "not a JSON object"
[ ! -e missing.html ] && [ ! -e broken/report.html ] || fail "a failed report left a file"

# browse NAME HTML: Chromium's DOM (NAME.dom), console log ($LOGS/NAME-dom.log, with the
# screenshot's in $LOGS/NAME-shot.log) and screenshot (NAME.png) of the page.
browse() {
  local name=$1 url
  url="file://$(realpath "$2")"
  local flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr
               --v=0 --user-data-dir="$WORK/chromium-profile-$name")
  HOME=$WORK/chromium-home timeout --kill-after=10 120 chromium "${flags[@]}" --dump-dom "$url" \
    >"$name.dom" 2>"$LOGS/$name-dom.log" </dev/null || fail "chromium --dump-dom $name exited $?"
  HOME=$WORK/chromium-home timeout --kill-after=10 120 chromium "${flags[@]}" \
    --screenshot="$WORK/$name.png" --window-size=1200,3000 "$url" \
    >"$LOGS/$name-shot.log" 2>&1 </dev/null || fail "chromium --screenshot $name exited $?"
  [ -s "$name.png" ] || fail "chromium wrote no screenshot $name.png"
  cat "$LOGS/$name-dom.log" "$LOGS/$name-shot.log" >"$LOGS/$name-chromium.log"
}
# check NAME ARGS...: report_check.py ARGS, output in $LOGS/NAME.log.
check() { local name=$1; shift; run "$name" 60 "$PY" "$CHECK" "$@"; }

browse one out/unet/report.html
browse two both.html
browse demo out/demo/report.html
for page in one two demo; do
  expect_ok "console-$page" check "console-$page" console "$LOGS/$page-chromium.log"
  expect_ok "shot-$page" check "shot-$page" shot "$page.png"
done
expect_ok dom-one check dom-one dom one.dom --runs 1 --eval --images 4
expect_ok dom-two check dom-two dom two.dom --runs 2 --eval --images 8
expect_ok dom-demo check dom-demo dom demo.dom --runs 1 --eval --images 4
grep -q 'model.arch' two.dom || fail "the config diff lacks model.arch"
grep -q '>autoencoder<' two.dom || fail "the comparison does not name the article's autoencoder"
grep -q 'val/dice' demo.dom || fail "the demo run's page has no val/dice curve"
grep -q 'noisy_input (baseline)' one.dom || fail "the eval table lacks the noisy-input baseline"

# Controls: each check must fail on a page made to break it.
"$PY" - out/unet/report.html <<'PYEOF'
import re, sys
page = open(sys.argv[1]).read()
open("script.html", "w").write(page.replace(
    "<head>", "<head>\n<script>throw new Error('report-control-error')</script>", 1))
open("network.html", "w").write(page.replace(
    "<body>", "<body>\n<img src=\"http://192.0.2.1/report-control.png\" alt=\"\">", 1))
open("noimg.html", "w").write(re.sub(r"<img [^>]*>", "", page))
open("blank.html", "w").write("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>"
                              "<body></body></html>\n")
PYEOF
for page in script network noimg blank; do browse "control-$page" "$page.html"; done
check ctl-script console "$LOGS/control-script-chromium.log" &&
  fail "an injected exception was not flagged as a console error"
expect_log ctl-script "Uncaught Error: report-control-error"
check ctl-network console "$LOGS/control-network-chromium.log" &&
  fail "an image from the network was not flagged"
expect_log ctl-network "Content Security Policy"
check ctl-blank shot control-blank.png && fail "a blank page's screenshot passed"
expect_log ctl-blank "the screenshot is blank"
check ctl-noimg dom control-noimg.dom --runs 1 --eval --images 4 &&
  fail "a report without its images passed the gallery check"
expect_log ctl-noimg "gallery: 0 PNG"
expect_ok console-noimg check console-noimg console "$LOGS/control-noimg-chromium.log"

for f in console-one console-two console-demo shot-one shot-two shot-demo dom-one dom-two dom-demo; do
  tail -1 "$LOGS/$f.log"
done
echo "controls: script -> $(grep -a -m1 -o 'Uncaught Error: report-control-error' "$LOGS/ctl-script.log");" \
  "network -> CSP refusal; blank -> $(tail -1 "$LOGS/ctl-blank.log");" \
  "no images -> $(grep -a -m1 'gallery' "$LOGS/ctl-noimg.log")"
cp one.png control-blank.png "$KEEP/"
cp two.png "$KEEP/article.png"
cp demo.png "$KEEP/demo.png"
cp out/unet/report.html "$KEEP/one.html"
cp both.html "$KEEP/article.html"
cp out/demo/report.html "$KEEP/demo.html"
echo "screenshots: $KEEP/demo.png (the demo run) $KEEP/article.png (the article's comparison)" \
  "$KEEP/one.png (control: $KEEP/control-blank.png)"
echo "pages: $KEEP/demo.html $KEEP/article.html $KEEP/one.html; chromium: $(chromium --version 2>/dev/null)"
echo "e2e_report: ok in $(( $(date +%s) - t0 )) s"
