// Where a container's runtime files live inside its directory (`containers/<id>/`).
import { join } from 'node:path';

export interface ContainerPaths {
  /** The OCI bundle: config.json lives here; conmon creates attach, ctl and winsz here. */
  bundle: string;
  config: string;
  /** Mount point of the root filesystem (the layers module mounts the overlay here). */
  rootfs: string;
  /** conmon's k8s-file log of the container's stdout/stderr. */
  log: string;
  /** conmon writes `<exitDir>/<id>` (the exit code) when the container exits. */
  exitDir: string;
  /** conmon's persist dir: `exit` (exit code) and `oom` (present if the OOM killer struck). */
  persistDir: string;
  pidFile: string;
  conmonPidFile: string;
  /** The runtime's own error log (JSON lines), read when create fails. */
  ociLog: string;
  /** SOCK_SEQPACKET attach socket (conmon --full-attach; see OciRuntime.attachPath for long paths). */
  attach: string;
  /** Control fifo: "1 <height> <width>\n" resizes the terminal, "2 0 0\n" reopens the log. */
  ctl: string;
  winsz: string;
}

export function containerPaths(dir: string): ContainerPaths {
  return {
    bundle: dir,
    config: join(dir, 'config.json'),
    rootfs: join(dir, 'rootfs'),
    log: join(dir, 'container.log'),
    exitDir: join(dir, 'exits'),
    persistDir: join(dir, 'userdata'),
    pidFile: join(dir, 'pidfile'),
    conmonPidFile: join(dir, 'conmon.pid'),
    ociLog: join(dir, 'oci-log'),
    attach: join(dir, 'attach'),
    ctl: join(dir, 'ctl'),
    winsz: join(dir, 'winsz'),
  };
}
