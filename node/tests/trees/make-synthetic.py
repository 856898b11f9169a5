# The synthetic trees of node/tests/trees (the healthy-6.18 one is a copy of a real /proc):
# python3 make-synthetic.py, run in this directory, writes them again.
import os
def meminfo(fields):
    out=[]
    for k,v in fields:
        if k.startswith('HugePages_'):
            out.append("%-15s %8d" % (k+':', v))
        else:
            out.append("%-15s %8d kB" % (k+':', v))
    return "\n".join(out)+"\n"
def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path,'w').write(text)

k54=[("MemTotal",16393216),("MemFree",3120400),("MemAvailable",11250000),("Buffers",412300),
("Cached",7650200),("SwapCached",0),("Active",6200100),("Inactive",4810300),("Active(anon)",2300100),
("Inactive(anon)",190200),("Active(file)",3900000),("Inactive(file)",4620100),("Unevictable",0),
("Mlocked",0),("SwapTotal",0),("SwapFree",0),("Dirty",1200),("Writeback",0),("AnonPages",2480500),
("Mapped",610300),("Shmem",201000),("KReclaimable",1820400),("Slab",2210300),("SReclaimable",1820400),
("SUnreclaim",389900),("KernelStack",14800),("PageTables",31200),("NFS_Unstable",0),("Bounce",0),
("WritebackTmp",0),("CommitLimit",8196608),("Committed_AS",6100200),("VmallocTotal",34359738367),
("VmallocUsed",36100),("VmallocChunk",0),("Percpu",9856),("HardwareCorrupted",0),("AnonHugePages",1210368),
("ShmemHugePages",0),("ShmemPmdMapped",0),("FileHugePages",0),("FilePmdMapped",0),("CmaTotal",0),("CmaFree",0),
("HugePages_Total",0),("HugePages_Free",0),("HugePages_Rsvd",0),("HugePages_Surp",0),("Hugepagesize",2048),
("Hugetlb",0),("DirectMap4k",454400),("DirectMap2M",16322560)]
write("healthy-5.4/proc/meminfo", meminfo(k54))
write("healthy-5.4/proc/pressure/memory", "some avg10=0.00 avg60=0.02 avg300=0.01 total=1830921\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=790112\n")
write("healthy-5.4/proc/vmstat", "nr_free_pages 780100\npgmajfault 21044\nworkingset_refault 1820\npswpin 0\npswpout 0\noom_kill 0\n")

k415=[("MemTotal",65859484),("MemFree",10300000),("MemAvailable",41000000),("Buffers",1200400),
("Cached",30420100),("SwapCached",0),("Active",30120000),("Inactive",18200000),("AnonPages",16410200),
("Mapped",1200300),("Shmem",80200),("Slab",5120300),("SReclaimable",4610200),("SUnreclaim",510100),
("KernelStack",30100),("PageTables",98200),("NFS_Unstable",0),("Bounce",0),("WritebackTmp",0),
("CommitLimit",32929740),("Committed_AS",25100200),("VmallocTotal",34359738367),("VmallocUsed",0),
("VmallocChunk",0),("HardwareCorrupted",0),("AnonHugePages",8200192),("CmaTotal",0),("CmaFree",0),
("HugePages_Total",2),("HugePages_Free",2),("HugePages_Rsvd",0),("HugePages_Surp",0),("Hugepagesize",1048576),
("DirectMap4k",610300),("DirectMap2M",30000000),("DirectMap1G",37748736)]
write("healthy-4.15/proc/meminfo", meminfo(k415))
write("healthy-4.15/proc/vmstat", "pgmajfault 91022\nworkingset_refault 30211\npswpin 0\npswpout 0\n")

inc=[("MemTotal",65011712),("MemFree",412000),("MemAvailable",1290000),("Buffers",2100),("Cached",1350000),
("SwapCached",0),("Active",28100000),("Inactive",2600000),("Active(anon)",27900000),("Inactive(anon)",1400000),
("Active(file)",200000),("Inactive(file)",1200000),("Unevictable",0),("Mlocked",0),("SwapTotal",0),("SwapFree",0),
("Zswap",0),("Zswapped",0),("Dirty",800),("Writeback",0),("AnonPages",29300000),("Mapped",140000),("Shmem",20000),
("KReclaimable",110000),("Slab",940000),("SReclaimable",98000),("SUnreclaim",842000),("KernelStack",28000),
("PageTables",92000),("SecPageTables",0),("NFS_Unstable",0),("Bounce",0),("WritebackTmp",0),("CommitLimit",32505856),
("Committed_AS",61000000),("VmallocTotal",34359738367),("VmallocUsed",310000),("VmallocChunk",0),("Percpu",48000),
("HardwareCorrupted",0),("AnonHugePages",26214400),("ShmemHugePages",0),("ShmemPmdMapped",0),("FileHugePages",0),
("FilePmdMapped",0),("Unaccepted",0),("HugePages_Total",0),("HugePages_Free",0),("HugePages_Rsvd",0),
("HugePages_Surp",0),("Hugepagesize",2048),("Hugetlb",0),("DirectMap4k",512000),("DirectMap2M",66000000)]
write("incident/proc/meminfo", meminfo(inc))
write("incident/proc/pressure/memory", "some avg10=72.35 avg60=65.10 avg300=48.02 total=9120345521\nfull avg10=41.80 avg60=37.22 avg300=25.91 total=5230118830\n")
write("incident/proc/vmstat", "nr_free_pages 103000\npgmajfault 48210993\nworkingset_refault_anon 0\nworkingset_refault_file 91203341\npswpin 0\npswpout 0\noom_kill 0\n")
hdr="slabinfo - version: 2.1\n# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n"
def slab(name, active, num, size, per, pages):
    slabs = (num + per - 1)//per
    return "%-17s %6d %6d %6d %4d %4d : tunables %4d %4d %4d : slabdata %6d %6d %6d\n" % (name, active, num, size, per, pages, 0,0,0, slabs*pages//pages, slabs, 0)
write("incident/proc/slabinfo", hdr + slab("nvidia_pte_cache", 8600000, 8600064, 64, 64, 1) + slab("nvidia_stack_cache", 412, 420, 12288, 2, 8) + slab("kmalloc-64", 81200, 81920, 64, 64, 1) + slab("dentry", 210000, 210021, 192, 21, 1) + slab("radix_tree_node", 40100, 40124, 584, 28, 4))

t=meminfo(inc)
write("cut-midline/proc/meminfo", t[:t.index("AnonPages")+24])
write("cut-before-hugetlb/proc/meminfo", t[:t.index("HugePages_Total")])
write("cut-midline/proc/pressure/memory", "some avg10=72.35 avg60=65.10 avg300=48.02 total=9120345521\nfull avg10=41.8")

# the pods' cgroup (kubepods): v2 with the systemd driver on the incident's node (the GPU
# pod's 28 GiB of anonymous memory and a little more), v1 on the older ones
write("incident/sys/fs/cgroup/kubepods.slice/memory.current", "%d\n" % (29100000 * 1024))
write("healthy-5.4/sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes", "%d\n" % (6200000 * 1024))
write("healthy-4.15/sys/fs/cgroup/memory/kubepods.slice/memory.usage_in_bytes", "%d\n" % (38000000 * 1024))

# who holds the GPU on the incident's node: the poison pod's two processes (cgroup v2, systemd
# driver) and the driver's persistence daemon outside every pod; the links' targets are the
# device paths as readlink gives them (dangling here)
POD = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
def proc(tree, pid, cgroup, fds):
    write("%s/proc/%d/cgroup" % (tree, pid), cgroup)
    os.makedirs("%s/proc/%d/fd" % (tree, pid), exist_ok=True)
    for n, target in fds.items():
        link = "%s/proc/%d/fd/%d" % (tree, pid, n)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(target, link)
slice_ = "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/cri-containerd-0b1c.scope\n" % POD.replace("-", "_")
proc("incident", 4242, slice_, {0: "/dev/null", 3: "/dev/nvidiactl", 4: "/dev/nvidia0", 5: "/dev/nvidia-uvm"})
proc("incident", 4243, slice_, {7: "/dev/nvidia0"})
proc("incident", 1001, "0::/system.slice/nvidia-persistenced.service\n", {4: "/dev/nvidia0"})
proc("incident", 1, "0::/init.scope\n", {0: "/dev/null", 1: "socket:[1234]"})

# the incident's numbers on a node where no pod holds a GPU: flagged, laid at no pod
write("no-gpu-holder/proc/meminfo", meminfo(inc))
proc("no-gpu-holder", 300, "0::/kubepods.slice/kubepods-pod%s.slice/cri-containerd-9.scope\n" % POD.replace("-", "_"), {1: "/dev/null"})

# Linux 6.1 with cgroup v2 (systemd driver), a 128 GiB GPU node at work: a healthy training pod
# holding the GPU, the page cache full, no thrashing
k61=[("MemTotal",131900000),("MemFree",25100000),("MemAvailable",83100000),("Buffers",810000),
("Cached",61200000),("SwapCached",0),("Active",40100000),("Inactive",60200000),("Active(anon)",21000000),
("Inactive(anon)",9000000),("Active(file)",19100000),("Inactive(file)",51200000),("Unevictable",30000),
("Mlocked",30000),("SwapTotal",0),("SwapFree",0),("Zswap",0),("Zswapped",0),("Dirty",9000),("Writeback",0),
("AnonPages",30100000),("Mapped",2200000),("Shmem",1900000),("KReclaimable",3900000),("Slab",5200000),
("SReclaimable",3900000),("SUnreclaim",1300000),("KernelStack",61000),("PageTables",180000),
("SecPageTables",0),("NFS_Unstable",0),("Bounce",0),("WritebackTmp",0),("CommitLimit",65950000),
("Committed_AS",52000000),("VmallocTotal",34359738367),("VmallocUsed",520000),("VmallocChunk",0),
("Percpu",150000),("HardwareCorrupted",0),("AnonHugePages",18000000),("ShmemHugePages",0),("ShmemPmdMapped",0),
("FileHugePages",0),("FilePmdMapped",0),("CmaTotal",0),("CmaFree",0),("HugePages_Total",8),("HugePages_Free",0),
("HugePages_Rsvd",0),("HugePages_Surp",0),("Hugepagesize",1048576),("Hugetlb",8388608),("DirectMap4k",800000),
("DirectMap2M",40000000),("DirectMap1G",94371840)]
write("healthy-6.1-cgv2/proc/meminfo", meminfo(k61))
write("healthy-6.1-cgv2/proc/pressure/memory", "some avg10=0.31 avg60=0.12 avg300=0.05 total=91123001\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=3012001\n")
write("healthy-6.1-cgv2/proc/vmstat", "pgmajfault 120334\nworkingset_refault_anon 0\nworkingset_refault_file 901223\noom_kill 0\n")
write("healthy-6.1-cgv2/sys/fs/cgroup/kubepods.slice/memory.current", "%d\n" % (88000000 * 1024))
TRAIN = "3f2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9"
proc("healthy-6.1-cgv2", 5150, "0::/kubepods.slice/kubepods-pod%s.slice/cri-containerd-77.scope\n" % TRAIN.replace("-", "_"), {3: "/dev/nvidiactl", 9: "/dev/nvidia3"})
