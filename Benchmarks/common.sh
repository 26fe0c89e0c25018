# Shared by the benchmark scripts (sourced, not run).

# Installs Proton C's headers when missing, with sudo when not root.
require_proton_dev() {
  [ -f /usr/include/proton/connection_driver.h ] && return
  echo "installing libqpid-proton11-dev for the Proton C side" >&2
  local sudo; sudo=$( [ "$(id -u)" = 0 ] || echo sudo )
  $sudo apt-get install -y libqpid-proton11-dev >/dev/null \
    || { $sudo apt-get update >/dev/null && $sudo apt-get install -y libqpid-proton11-dev >/dev/null; }
}

# The median of the numbers on stdin, one per line.
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
