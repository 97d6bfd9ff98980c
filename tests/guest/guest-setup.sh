#!/bin/sh
# Runs inside the Debian 13 guest's root filesystem (chroot, from
# cgroup2-qemu.sh) after coloc is installed there: the guest's name, a
# munge key, Slurm 24.11 on one node with cgroup/v2, coloc's configuration,
# colocd's unit (Delegate=yes) and the unit that runs in-guest.sh at boot.
set -eu
echo guest >/etc/hostname
printf '127.0.0.1 localhost\n10.77.0.1 guest\n' >/etc/hosts
: >/etc/fstab
passwd -d root >/dev/null
# no network, no wait for it; nothing that slows a TCG boot
systemctl mask systemd-networkd-wait-online.service systemd-timesyncd.service apt-daily.timer \
	apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer \
	systemd-tmpfiles-clean.timer man-db.timer serial-getty@ttyS0.service getty@tty1.service \
	2>/dev/null || true

# The guest has no network card, but Slurm resolves its listening address
# with AI_ADDRCONFIG, which ignores the loopback: a dummy interface with
# the node's address.
cat >/etc/systemd/system/coloc-guest-net.service <<'EOF'
[Unit]
Description=the guest's node address on a dummy interface
DefaultDependencies=no
Before=network.target munge.service slurmctld.service slurmd.service colocd.service
After=systemd-modules-load.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/ip link add dummy0 type dummy
ExecStart=/usr/sbin/ip addr add 10.77.0.1/24 dev dummy0
ExecStart=/usr/sbin/ip link set dummy0 up

[Install]
WantedBy=network.target multi-user.target
EOF

# munge
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key

# Slurm: one node, the cgroup/v2 plugins a modern cluster runs
mkdir -p /etc/slurm/plugstack.conf.d /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
chown -R slurm:slurm /var/lib/slurm /var/log/slurm
cat >/etc/slurm/slurm.conf <<'EOF'
ClusterName=guest
SlurmctldHost=guest
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup,task/affinity
PrologFlags=Alloc,Contain
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SchedulerParameters=sched_interval=1
MinJobAge=10
KillWait=2
PlugStackConfig=/etc/slurm/plugstack.conf
NodeName=guest CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=1500 State=UNKNOWN
PartitionName=debug Nodes=guest Default=YES MaxTime=60 State=UP OverSubscribe=FORCE:2
EOF
cat >/etc/slurm/cgroup.conf <<'EOF'
CgroupPlugin=cgroup/v2
ConstrainCores=yes
ConstrainRAMSpace=yes
ConstrainDevices=yes
EOF
echo 'include /etc/slurm/plugstack.conf.d/*' >/etc/slurm/plugstack.conf
slurmlib=$(find /usr/lib -name spank_faas.so -path '*slurm*' | head -1)
echo "required $slurmlib conf=/etc/slurm/coloc.conf host_default=no" >/etc/slurm/plugstack.conf.d/spank_faas.conf

# coloc: controller and node agent in one colocd (standalone) on this node
mkdir -p /dev/coloc-fake
cat >/etc/slurm/coloc.conf <<'EOF'
ControllerHost=127.0.0.1
ControllerPort=863
NodeAgentPort=864
SocketPath=/run/coloc/colocd-%n.sock
StateDir=/var/lib/coloc/%n
CgroupRoot=coloc
LendUnallocated=no
MaxLendFraction=100%
BatchStepCores=1
MemoryMargin=64M
EvictGrace=1s
DefaultLeaseTime=30
Provider=tcp;ofi_rxm
SpareExecutors=1
AuthType=munge
EOF
# colocd's installed unit (systemd/colocd.service: a node agent, Type=notify,
# Delegate=yes), run as this one-node cluster's controller too (--standalone)
mkdir -p /etc/systemd/system/colocd.service.d
cat >/etc/systemd/system/colocd.service.d/guest.conf <<'EOF'
[Service]
Environment=FAAS_ADDR=127.0.0.1
ExecStart=
ExecStart=/usr/sbin/colocd --standalone --foreground
EOF
cat >/etc/systemd/system/coloc-guest-check.service <<'EOF'
[Unit]
Description=coloc's checks in the guest (tests/guest/in-guest.sh)
After=munge.service slurmctld.service slurmd.service colocd.service

[Service]
Type=oneshot
ExecStart=/bin/bash /opt/coloc/tests/guest/in-guest.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
# the tests create sandboxes below this unit's cgroup
Delegate=yes
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
systemctl enable coloc-guest-net.service munge.service slurmctld.service slurmd.service colocd.service coloc-guest-check.service
