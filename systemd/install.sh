#!/usr/bin/env bash
# Installs a built campaignd as a systemd service: binary, user, config, unit. Run as root
# from the repository root after `cmake --build build`.
set -euo pipefail
install -m 0755 build/campaignd /usr/local/bin/campaignd
install -D -m 0644 systemd/campaignd.sysusers /usr/lib/sysusers.d/campaignd.conf
systemd-sysusers /usr/lib/sysusers.d/campaignd.conf
install -d -m 0750 -o root -g campaignd /etc/campaignd
[ -f /etc/campaignd/campaignd.yaml ] || install -m 0640 -g campaignd examples/campaignd.yaml /etc/campaignd/campaignd.yaml
[ -f /etc/campaignd/campaignd.env ] || install -m 0600 systemd/campaignd.env.example /etc/campaignd/campaignd.env
install -d -m 0750 -o campaignd -g campaignd /var/lib/campaignd /var/lib/campaignd/campaigns
install -D -m 0644 systemd/campaignd.service /etc/systemd/system/campaignd.service
systemctl daemon-reload
echo "edit /etc/campaignd/campaignd.yaml (data_dir: /var/lib/campaignd) and campaignd.env, then:"
echo "  systemctl enable --now campaignd"
