#!/bin/busybox sh
# /init of the sample initramfs: prove userspace ran and show the command line it got.
/bin/busybox mkdir -p /proc
/bin/busybox mount -t proc proc /proc
# Keep kernel messages from interleaving with the marker line.
echo 0 > /proc/sys/kernel/printk
echo "WORKBENCH-SAMPLE-OK cmdline=$(/bin/busybox cat /proc/cmdline)"
/bin/busybox sync
/bin/busybox poweroff -f
