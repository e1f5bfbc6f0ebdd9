#!/bin/sh
# Install the Debian packages named in $PKGS that are missing: as root with apt-get (CI, fresh
# machines); otherwise print the one command a user should run, and fail, so no test is skipped
# silently for lack of a package.
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
  exit $?
fi
echo "vjbridge needs these Debian packages; run:"
echo "  sudo apt-get install -y$missing"
exit 1
