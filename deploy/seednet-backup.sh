#!/bin/sh
# One backup of a seednet node, then rotation: keeps the newest
# $SEEDNET_BACKUP_KEEP backups in $SEEDNET_BACKUP_DIR and deletes the older
# ones (only after the new backup succeeded). Run by seednet-backup.service;
# also fine by hand or from cron.
#
#   SEEDNET_DATA_DIR           the node's data dir (default /var/lib/seednet)
#   SEEDNET_BACKUP_DIR         where backups go (default /var/backups/seednet)
#   SEEDNET_BACKUP_KEEP        how many to keep (default 14)
#   SEEDNET_BACKUP_INCLUDE_KEY non-empty: add --include-key
#   SEEDNET_TOKEN              an admin token, when the node is running
#   SEEDNET_BIN                the seednet binary (default /usr/local/bin/seednet)
set -eu

data_dir=${SEEDNET_DATA_DIR:-/var/lib/seednet}
backup_dir=${SEEDNET_BACKUP_DIR:-/var/backups/seednet}
keep=${SEEDNET_BACKUP_KEEP:-14}
seednet=${SEEDNET_BIN:-/usr/local/bin/seednet}

case $keep in
    '' | *[!0-9]*)
        echo "seednet-backup: SEEDNET_BACKUP_KEEP must be a whole number, not '$keep'" >&2
        exit 2
        ;;
esac
if [ "$keep" -lt 1 ]; then
    echo "seednet-backup: SEEDNET_BACKUP_KEEP must be at least 1" >&2
    exit 2
fi
if [ ! -d "$backup_dir" ]; then
    echo "seednet-backup: $backup_dir does not exist (create it owned by the node's user, mode 0700)" >&2
    exit 2
fi

# UTC time first, so that names sort by age; the pid keeps two runs in one
# second apart.
name="seednet-$(date -u +%Y%m%dT%H%M%SZ)-$$"
if [ -n "${SEEDNET_BACKUP_INCLUDE_KEY:-}" ]; then
    "$seednet" --data-dir "$data_dir" backup --output "$backup_dir/$name" --include-key
else
    "$seednet" --data-dir "$data_dir" backup --output "$backup_dir/$name"
fi

# Rotation: complete backups only (a run that died leaves a hidden
# .seednet-*.partial-* dir, removed once a day old).
ls -1d "$backup_dir"/seednet-* 2>/dev/null | sort -r | tail -n +"$((keep + 1))" |
    while IFS= read -r old; do
        if [ -f "$old/manifest.json" ]; then
            rm -rf -- "$old"
            echo "seednet-backup: removed $old"
        fi
    done
find "$backup_dir" -maxdepth 1 -name '.seednet-*.partial-*' -mtime +0 -exec rm -rf -- {} + 2>/dev/null || true
