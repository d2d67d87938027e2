#!/bin/busybox sh
# /init of the sample initramfs: prove userspace ran and show the command line it got.
/bin/busybox mkdir -p /proc /sys
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
# Keep kernel messages from interleaving with the marker line.
echo 0 > /proc/sys/kernel/printk
# With a TPM: the PCRs the stub measures into, as the kernel reads them (before the marker).
for bank in sha256 sha384 sha1; do
    for pcr in 11 12; do
        file=/sys/class/tpm/tpm0/pcr-$bank/$pcr
        [ -r "$file" ] && echo "WORKBENCH-PCR $bank $pcr $(/bin/busybox cat "$file")"
    done
done
echo "WORKBENCH-SAMPLE-OK cmdline=$(/bin/busybox cat /proc/cmdline)"
/bin/busybox sync
/bin/busybox poweroff -f
