#!/usr/bin/env bash
# Builds the web client into dist/: two wasm32 release builds of the frontend crate (the app's
# module, frontend.js + frontend_bg.wasm, and the embeddable widget's, courier_widget.js +
# courier_widget_bg.wasm), each through wasm-bindgen (--target web) and, when installed, npm's
# wasm-opt and terser; the two pages from index.html (index.html for the app, widget.html for
# /widget); the widget's static files from web/; compressed copies of each. The server serves
# dist/ at /.
#
#   scripts/build-frontend.sh            # from any directory
#   CARGO_TARGET_DIR=/elsewhere scripts/build-frontend.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in
    /*) ;;
    *) target_dir="$root/$target_dir" ;;
esac
dist="$root/dist"

fail() {
    echo "build-frontend: $*" >&2
    exit 1
}

# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock, or the
# generated glue does not match the module.
wanted=$(awk '
    $0 == "[[package]]" { name = ""; next }
    $1 == "name" { gsub(/"/, "", $3); name = $3; next }
    $1 == "version" && name == "wasm-bindgen" { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock)
[ -n "$wanted" ] || fail "no wasm-bindgen entry in Cargo.lock (run: cargo generate-lockfile)"
if ! command -v wasm-bindgen >/dev/null 2>&1; then
    fail "the wasm-bindgen CLI is not installed; install it with:
    cargo install wasm-bindgen-cli --version $wanted"
fi
have=$(wasm-bindgen --version | awk '{print $2}')
if [ "$have" != "$wanted" ]; then
    fail "wasm-bindgen CLI is $have but Cargo.lock has wasm-bindgen $wanted; install the matching one with:
    cargo install wasm-bindgen-cli --version $wanted"
fi

# With the standard library's sources (rustup component rust-src, which scripts/setup-tools.sh
# adds), std is rebuilt with the client's own size settings, and four size options of the
# compiler apply to it and to everything else (measured: 295.7 -> 272.4 KB gzipped wasm):
# - panic=immediate-abort: a panic traps at once, without formatting a message (the browser's
#   console still shows the trap and its stack); no panic strings or locations in the module;
# - fmt-debug=none: `{:?}` formats nothing, so no Debug code is kept (the client prints no Debug
#   output anywhere; errors shown to people come from Display and i18n);
# - location-detail=none: no file names and lines for `#[track_caller]`;
# - optimize_for_size: std's smaller variants (sorting, formatting of integers).
# These are unstable options of the pinned stable compiler, enabled for this one build with
# RUSTC_BOOTSTRAP=1. Without rust-src the client builds as before, only larger.
sysroot=$(rustc --print sysroot)
cargo_build() {
    if [ -d "$sysroot/lib/rustlib/src/rust/library/std" ]; then
        echo "==> cargo build -p frontend${*:+ $*} (wasm32, wasm-release, std rebuilt for size)"
        # --config adds these flags to those of .cargo/config.toml (arrays from --config are joined).
        if ! RUSTC_BOOTSTRAP=1 cargo build -p frontend --target wasm32-unknown-unknown \
            --profile wasm-release "$@" -Z build-std=std,panic_abort \
            -Z build-std-features=optimize_for_size \
            --config 'target.wasm32-unknown-unknown.rustflags = ["-Zunstable-options", "-Cpanic=immediate-abort", "-Zfmt-debug=none", "-Zlocation-detail=none"]'
        then
            # Unstable options change between compilers; the client still builds without them.
            echo "build-frontend: WARNING: the size-optimised build failed with $(rustc -V); building without it" >&2
            missing_size_tools+=("build-std")
            cargo build -p frontend --target wasm32-unknown-unknown --profile wasm-release "$@"
        fi
    else
        echo "==> cargo build -p frontend${*:+ $*} (wasm32, wasm-release; rustup component add rust-src makes it smaller)"
        missing_size_tools+=("rust-src")
        cargo build -p frontend --target wasm32-unknown-unknown --profile wasm-release "$@"
    fi
}

# One module: NAME (the glue NAME.js, the module NAME_bg.wasm in dist/), built with the cargo
# arguments that follow.
build_module() {
    local name=$1
    shift
    cargo_build "$@"
    wasm="$target_dir/wasm32-unknown-unknown/wasm-release/frontend.wasm"
    [ -f "$wasm" ] || fail "expected $wasm after the build"

    echo "==> wasm-bindgen $have ($name)"
    wasm-bindgen --target web --no-typescript --out-dir "$dist" --out-name "$name" "$wasm"

    # Only npm's binaryen: Debian's older wasm-opt produces modules that fail in the browser.
    if [ -x node_modules/.bin/wasm-opt ]; then
        # The glue's classes for wasm-streams (IntoUnderlyingSource, -Sink, -ByteSource: exported by
        # that crate, which leptos's server functions bring in; this client never streams through
        # them) go, and so do their exports from the module, which lets wasm-opt drop their code.
        echo "==> dropping the unused wasm-streams classes from the glue"
        node -e '
            const fs = require("fs");
            const file = process.argv[1];
            let js = fs.readFileSync(file, "utf8");
            const before = js.length;
            js = js.replace(/^export class IntoUnderlying\w+ \{\n[\s\S]*?\n\}\nif \(Symbol\.dispose\) IntoUnderlying\w+\.prototype\[Symbol\.dispose\] = IntoUnderlying\w+\.prototype\.free;\n/gm, "");
            js = js.replace(/^const IntoUnderlying\w+Finalization = [^;]*;\n/gm, "");
            if (/IntoUnderlying|wasm\.\w*intounderlying/i.test(js)) {
                console.error("build-frontend: the glue still uses IntoUnderlying* after removing it");
                process.exit(1);
            }
            fs.writeFileSync(file, js);
            console.log(`    ${before - js.length} bytes of glue removed`);
        ' "$dist/$name.js"

        # --low-memory-unused: the module never uses addresses below 1 KiB (rustc links wasm32 with
        # the stack first, growing down from 1 MiB, and the data after it), so wasm-opt may fold
        # constant offsets into loads and stores: -1.4 KB gzipped. The strip flags drop the producers
        # and target-features sections (-0.2 KB gzipped). --minify-imports-and-exports-and-modules
        # renames the ~200 imports (`__wbg_get_955bde2b2fe2defa`...) and the exports to one or two
        # letters, in the module and (below) in the glue: their hashes do not compress (-4 KB gzipped).
        # --flatten --rereloop first, then -Oz three times: binaryen rebuilds the control flow of
        # every function from scratch before shrinking it, which finds smaller shapes than -Oz
        # alone on this module (-2.8 KB gzipped; a fourth -Oz gains nothing).
        echo "==> wasm-opt --flatten --rereloop -Oz -Oz -Oz (npm binaryen)"
        node_modules/.bin/wasm-opt --remove-exports --pass-arg='remove-exports@*intounderlying*' \
            --flatten --rereloop -Oz -Oz -Oz --low-memory-unused \
            --strip-debug --strip-producers --strip-target-features \
            --minify-imports-and-exports-and-modules \
            --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
            --enable-mutable-globals --enable-reference-types --enable-multivalue \
            -o "$dist/${name}_bg.opt.wasm" "$dist/${name}_bg.wasm" >"$dist/$name.names.json"
        mv "$dist/${name}_bg.opt.wasm" "$dist/${name}_bg.wasm"

        # The glue follows the renaming: the keys of its import object, the module's name there, and
        # every `wasm.NAME` use of an export. Checked against the module: every import it asks for is
        # given, every export the glue uses exists.
        echo "==> renaming the imports and exports in the glue"
        node -e '
            const fs = require("fs");
            const [jsFile, wasmFile, mapFile] = process.argv.slice(1);
            const fail = (msg) => { console.error("build-frontend: " + msg); process.exit(1); };
            const map = JSON.parse(fs.readFileSync(mapFile, "utf8"));
            const module = new WebAssembly.Module(fs.readFileSync(wasmFile));
            const imports = WebAssembly.Module.imports(module);
            const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
            const modules = new Set(imports.map((i) => i.module));
            if (modules.size !== 1) fail("expected one import module, found " + [...modules]);
            const [newModule] = modules;
            let js = fs.readFileSync(jsFile, "utf8");
            const ident = (name) => name.replace(/[$]/g, "\\$");
            const renamedModules = new Set();
            for (const [oldModule, oldName, newName] of map.imports) {
                renamedModules.add(oldModule);
                const key = new RegExp("^(\\s+)" + ident(oldName) + ": function", "m");
                if (!key.test(js)) fail("import " + oldName + " not found in the glue");
                js = js.replace(key, (_, indent) => indent + JSON.stringify(newName) + ": function");
            }
            for (const oldModule of renamedModules) {
                const entry = JSON.stringify(oldModule) + ": import0,";
                if (!js.includes(entry)) fail("import module " + oldModule + " not found in the glue");
                js = js.replace(entry, JSON.stringify(newModule) + ": import0,");
            }
            const exportMap = new Map(map.exports);
            js = js.replace(/\bwasm\.([A-Za-z_$][\w$]*)/g, (all, name) => {
                const renamed = exportMap.get(name);
                if (renamed === undefined) fail("the glue uses wasm." + name + ", which is not renamed");
                return "wasm[" + JSON.stringify(renamed) + "]";
            });
            for (const m of js.matchAll(/\bwasm\["([^"]+)"\]/g)) {
                if (!exports.has(m[1])) fail("the glue uses export " + m[1] + ", not in the module");
            }
            for (const i of imports) {
                if (!js.includes(JSON.stringify(i.name) + ": function")) {
                    fail("the module imports " + i.name + ", which the glue does not give");
                }
            }
            fs.writeFileSync(jsFile, js);
        ' "$dist/$name.js" "$dist/${name}_bg.wasm" "$dist/$name.names.json"
        rm "$dist/$name.names.json"
    else
        echo "==> skipping wasm-opt (npm install binaryen to shrink the module further)"
        missing_size_tools+=("wasm-opt")
    fi

    # The JS glue minified (npm's terser, when installed): 9.8 -> 7.5 KB gzipped. Only local names
    # are mangled; the names the module imports and exports stay as they are.
    if [ -x node_modules/.bin/terser ]; then
        echo "==> terser (npm) on the JS glue"
        node_modules/.bin/terser "$dist/$name.js" --module --compress --mangle \
            -o "$dist/$name.min.js"
        mv "$dist/$name.min.js" "$dist/$name.js"
    else
        missing_size_tools+=("terser")
    fi
}

# Size tools this build went without (each fallback above and below adds its name); written to
# dist/size-tools.txt, where the download-budget test reads whether the budget applies.
missing_size_tools=()
rm -rf "$dist"
mkdir -p "$dist"
# The page's module, then the embeddable widget's (the same crate with the `widget` feature:
# each leaves out the other's views; the page's is 16 KB gzipped smaller than one module for
# both, the widget's 59 KB).
build_module frontend
build_module courier_widget --features widget

# Two pages from index.html: the app's (index.html, without the parts marked "widget page only")
# and the widget's (widget.html, loading the widget's module), each with its style sheet
# without comments and layout whitespace (the source stays readable).
if command -v node >/dev/null 2>&1; then
    node -e '
        const fs = require("fs");
        const [source, dist] = process.argv.slice(1);
        const fail = (msg) => { console.error("build-frontend: " + msg); process.exit(1); };
        const html = fs.readFileSync(source, "utf8");
        const css = /\/\* widget page only: begin[^*]*\*\/[\s\S]*?\/\* widget page only: end \*\/\n?/g;
        const markup = /<!-- widget page only: begin -->\n[\s\S]*?<!-- widget page only: end -->\n/g;
        const markers = /<!-- widget page only: (begin|end) -->\n/g;
        const minified = (page) => page.replace(/<style>([\s\S]*?)<\/style>/g,
            (_, css) => "<style>" + css
                .replace(/\/\*[\s\S]*?\*\//g, "")
                .replace(/\s+/g, " ")
                .replace(/\s*([{};,>])\s*/g, "$1")
                .replace(/:\s+/g, ":")
                .replace(/;}/g, "}")
                .trim() + "</style>");
        const app = html.replace(css, "").replace(markup, "");
        const widget = html.replace(markers, "").replace("\"/frontend.js\"", "\"/courier_widget.js\"");
        if (app === html || !widget.includes("\"/courier_widget.js\"") || /widget page only/.test(app)) {
            fail("index.html lacks its widget-only markers or its /frontend.js import");
        }
        fs.writeFileSync(dist + "/index.html", minified(app));
        fs.writeFileSync(dist + "/widget.html", minified(widget));
    ' index.html "$dist"
else
    cp index.html "$dist/index.html"
    sed 's|"/frontend.js"|"/courier_widget.js"|' index.html >"$dist/widget.html"
fi
# The embeddable widget's loader (widget.js) and the snippet builder (embed.html): static files.
cp web/widget.js web/embed.html "$dist/"

# Compressed copies, served as they are to browsers that accept them (no work per request):
# brotli (quality 11, through node's zlib) and gzip by zopfli (the same gzip format, about 5%
# smaller than gzip -9, slower to compress, which is done once here): npm's @gfx/zopfli (pinned
# in package.json, installed by scripts/setup-tools.sh), else Debian's zopfli, else gzip -9.
echo "==> compressing"
if command -v node >/dev/null 2>&1 && [ -d node_modules/@gfx/zopfli ]; then
    gzipper=npm
elif command -v zopfli >/dev/null 2>&1; then
    gzipper=zopfli
else
    gzipper=gzip
    missing_size_tools+=("zopfli")
fi
for file in "$dist"/*.js "$dist"/*.wasm "$dist"/*.html; do
    case $gzipper in
    npm)
        node -e '
            const fs = require("fs");
            require("./node_modules/@gfx/zopfli").gzip(
                fs.readFileSync(process.argv[1]), { numiterations: 15 }, (error, output) => {
                    if (error) throw error;
                    fs.writeFileSync(process.argv[1] + ".gz", output);
                });
        ' "$file" ;;
    zopfli) zopfli --gzip -c "$file" >"$file.gz" ;;
    *) gzip -9 -k -f "$file" ;;
    esac
    if command -v node >/dev/null 2>&1; then
        node -e '
            const zlib = require("zlib"), fs = require("fs");
            const input = fs.readFileSync(process.argv[1]);
            const params = {
                [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
                [zlib.constants.BROTLI_PARAM_SIZE_HINT]: input.length,
            };
            fs.writeFileSync(process.argv[1] + ".br", zlib.brotliCompressSync(input, { params }));
        ' "$file"
    fi
done
if [ ${#missing_size_tools[@]} -eq 0 ]; then
    echo "complete" >"$dist/size-tools.txt"
else
    echo "missing: ${missing_size_tools[*]}" >"$dist/size-tools.txt"
    echo "build-frontend: note: built without ${missing_size_tools[*]}: the client is larger than it could be" >&2
fi

echo "==> dist/ (what a browser downloads: brotli where it accepts it, else gzip)"
printf '%-22s %10s %10s %10s\n' file bytes gzip brotli
for file in "$dist"/*.js "$dist"/*.wasm "$dist"/*.html; do
    raw=$(wc -c <"$file")
    gz=$(wc -c <"$file.gz")
    br=$( [ -f "$file.br" ] && wc -c <"$file.br" || echo -)
    printf '%-22s %10s %10s %10s\n' "$(basename "$file")" "$raw" "$gz" "$br"
done
