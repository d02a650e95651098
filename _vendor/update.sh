#!/usr/bin/env bash
# Re-fetch the vendored browser files from npm (`npm pack`) into this folder.
# Usage: _vendor/update.sh   (or `make vendor`). Versions are pinned below; after
# changing one, update the table in _vendor/README.md and rebuild the book.
set -euo pipefail
REQUIREJS=2.3.7
HTML_MANAGER=1.0.15
ANYWIDGET=0.11.0
# axe-core is used by tests/check_book.py only; _config.yml keeps it out of the book.
AXE_CORE=4.14.1

here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "requirejs@$REQUIREJS" "@jupyter-widgets/html-manager@$HTML_MANAGER" \
    "anywidget@$ANYWIDGET" "axe-core@$AXE_CORE" >/dev/null
for name in requirejs jupyter-widgets-html-manager anywidget axe-core; do
    mkdir -p "$name" && tar xzf "$name"-*.tgz -C "$name"
done

# require.js: the single file; its licence (MIT) is named in its header.
rm -rf "$here/requirejs" && mkdir -p "$here/requirejs"
cp requirejs/package/require.js "$here/requirejs/"

# html-manager: the AMD embed script plus the icon fonts it requests at run time
# (webpack assets; widgets.js maps the path they load from to here).
# Browsers take the first format they support, WOFF2 today, WOFF as fallback;
# the TTF, EOT and SVG copies are never requested, so they are left out.
rm -rf "$here/html-manager" && mkdir -p "$here/html-manager"
dist=jupyter-widgets-html-manager/package/dist
cp "$dist/embed-amd.js" "$dist/embed.js.LICENSE.txt" "$here/html-manager/"
for ext in woff2 woff; do
    cp "$dist"/*."$ext" "$here/html-manager/"
done

# anywidget's AMD front end (the same file as the wheel's nbextension/index.js).
rm -rf "$here/anywidget" && mkdir -p "$here/anywidget"
cp anywidget/package/dist/index.js anywidget/package/LICENSE "$here/anywidget/"

# axe-core: the minified engine, its licence (MPL-2.0) and its third-party notices.
rm -rf "$here/axe-core" && mkdir -p "$here/axe-core"
cp axe-core/package/axe.min.js axe-core/package/LICENSE axe-core/package/LICENSE-3RD-PARTY.txt \
    "$here/axe-core/"

# Licence texts the npm tarballs do not carry as files.
cat > "$here/requirejs/LICENSE" <<'LIC'
RequireJS 2.3.7, https://github.com/requirejs/requirejs
Copyright jQuery Foundation and other contributors, https://jquery.org/

MIT License

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of
the Software, and to permit persons to whom the Software is furnished to do so,
subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS
FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
LIC
cat > "$here/html-manager/LICENSE" <<'LIC'
@jupyter-widgets/html-manager, https://github.com/jupyter-widgets/ipywidgets
Copyright (c) 2015 Project Jupyter Contributors
All rights reserved.

BSD 3-Clause License

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.

Third-party code bundled into embed-amd.js is listed, with its licences, in
embed.js.LICENSE.txt.
LIC
echo "vendored: requirejs $REQUIREJS, @jupyter-widgets/html-manager $HTML_MANAGER, anywidget $ANYWIDGET"
