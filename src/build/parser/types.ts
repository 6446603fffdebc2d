// The typed Dockerfile model. Values are kept as written (unexpanded); the executor expands
// them with expandWord/expandInstruction in the ARG/ENV scope in effect at that line.

/** Lines are 1-based and inclusive; `endLine` covers continuations and heredoc bodies. */
export interface SourceLocation {
  startLine: number;
  endLine: number;
  /** 1-based column of the instruction keyword. */
  column: number;
}

export interface ParserDirectives {
  syntax?: string;
  escape: '\\' | '`';
  /** Raw `# check=` value, parsed into `checks`. */
  check?: string;
  checks: CheckDirective;
}

export interface CheckDirective {
  /** Rule ids to skip, or 'all'. */
  skip: string[] | 'all';
  /** Violations fail the build. */
  error: boolean;
}

export interface Heredoc {
  /** Delimiter word with quotes removed (`EOF`). */
  name: string;
  /** Body lines joined with '\n' (each line newline-terminated), tabs stripped for `<<-`. */
  content: string;
  /** false when the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): no variable expansion in the body. */
  expand: boolean;
  /** `<<-`: leading tabs were stripped. */
  chomp: boolean;
  /** File descriptor prefix (`3<<EOF`), 0 when absent. */
  fd: number;
}

/** Exec form (`["a","b"]`) or shell form (`a b`, run through the SHELL). */
export type CommandLine = { form: 'exec'; args: string[] } | { form: 'shell'; script: string };

export interface KeyValue {
  key: string;
  value: string;
}

interface Base {
  location: SourceLocation;
  /** The instruction as written (continuations joined), used for history `created_by`. */
  original: string;
  /** The keyword as written (`run`, `Run`, `RUN`), for the casing check. */
  keyword: string;
}

export interface FromInstruction extends Base {
  kind: 'FROM';
  image: string;
  platform?: string;
  /** Stage name, lower-cased as BuildKit does. */
  stageName?: string;
  /** `AS` as written, for the FromAsCasing check. */
  asKeyword?: string;
}

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export interface RunMount {
  type: MountType;
  target?: string;
  source?: string;
  from?: string;
  readonly: boolean;
  /** cache, secret, ssh: the id (defaults filled in as BuildKit does). */
  id?: string;
  sharing?: CacheSharing;
  mode?: number;
  uid?: number;
  gid?: number;
  /** secret/ssh: fail when missing. */
  required?: boolean;
  /** tmpfs size in bytes. */
  size?: number;
  /** secret: expose as this environment variable. */
  env?: string;
}

export interface RunDevice {
  name: string;
  required: boolean;
}

export interface RunInstruction extends Base {
  kind: 'RUN';
  command: CommandLine;
  mounts: RunMount[];
  network?: 'default' | 'none' | 'host';
  /** `--device=name[,required]` (CDI devices). */
  devices: RunDevice[];
  security?: 'sandbox' | 'insecure';
  heredocs: Heredoc[];
}

export interface CmdInstruction extends Base {
  kind: 'CMD';
  command: CommandLine;
}

export interface EntrypointInstruction extends Base {
  kind: 'ENTRYPOINT';
  command: CommandLine;
}

export interface ShellInstruction extends Base {
  kind: 'SHELL';
  shell: string[];
}

export interface LabelInstruction extends Base {
  kind: 'LABEL';
  labels: KeyValue[];
  /** Written as `LABEL key value` (one pair, no `=`). */
  legacy: boolean;
}

export interface MaintainerInstruction extends Base {
  kind: 'MAINTAINER';
  maintainer: string;
}

export interface ExposeInstruction extends Base {
  kind: 'EXPOSE';
  /** As written, e.g. `80`, `53/udp`, `8000-8010/tcp`, `$PORT`; see parsePortSpec. */
  ports: string[];
}

export interface EnvInstruction extends Base {
  kind: 'ENV';
  vars: KeyValue[];
  legacy: boolean;
}

/** `--chmod`: octal (`0755`) or symbolic (`u=rwx,go=rx`, `+x`). */
export type ChmodSpec = { octal: number } | { symbolic: string };

export type CopySource = { kind: 'path'; path: string } | { kind: 'heredoc'; heredoc: Heredoc };

export interface CopyInstruction extends Base {
  kind: 'COPY' | 'ADD';
  sources: CopySource[];
  dest: string;
  /** Paths were given in JSON form. */
  json: boolean;
  /** COPY only: stage name, stage index or image. */
  from?: string;
  chown?: string;
  chmod?: ChmodSpec;
  /** The raw `--chmod` value (may hold variables). */
  chmodRaw?: string;
  link: boolean;
  excludes: string[];
  /** COPY only. */
  parents: boolean;
  /** ADD only. */
  checksum?: string;
  /** ADD only (git sources). */
  keepGitDir?: boolean;
  /** ADD only: `--unpack[=bool]`; undefined = default (local archives unpacked, URLs not). */
  unpack?: boolean;
}

export interface ArgDef {
  name: string;
  /** undefined when declared without a default (`ARG NAME`). */
  default?: string;
}

export interface ArgInstruction extends Base {
  kind: 'ARG';
  args: ArgDef[];
}

export interface UserInstruction extends Base {
  kind: 'USER';
  user: string;
}

export interface WorkdirInstruction extends Base {
  kind: 'WORKDIR';
  path: string;
}

export interface VolumeInstruction extends Base {
  kind: 'VOLUME';
  paths: string[];
}

export interface StopsignalInstruction extends Base {
  kind: 'STOPSIGNAL';
  signal: string;
}

export type HealthcheckInstruction = Base & { kind: 'HEALTHCHECK' } & (
    | { none: true }
    | {
        none: false;
        /** `['CMD', ...args]` for exec form, `['CMD-SHELL', script]` for shell form (image config Test). */
        test: string[];
        /** Durations in nanoseconds as in the image config; absent = default. */
        intervalNs?: number;
        timeoutNs?: number;
        startPeriodNs?: number;
        startIntervalNs?: number;
        retries?: number;
      }
  );

export interface OnbuildInstruction extends Base {
  kind: 'ONBUILD';
  /** The trigger as written after ONBUILD (stored in the image config's OnBuild). */
  trigger: string;
  /** The trigger parsed, to validate it now. */
  instruction: Instruction;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | LabelInstruction
  | MaintainerInstruction
  | ExposeInstruction
  | EnvInstruction
  | CopyInstruction
  | ArgInstruction
  | UserInstruction
  | WorkdirInstruction
  | VolumeInstruction
  | StopsignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

export type InstructionKind = Instruction['kind'];

export interface Stage {
  index: number;
  /** Lower-cased stage name (`AS name`). */
  name?: string;
  /** The FROM image or stage reference as written (unexpanded). */
  base: string;
  platform?: string;
  from: FromInstruction;
  /** Instructions after FROM (FROM excluded). */
  instructions: Instruction[];
}

export interface ParseWarning {
  /** Build-check rule id where one exists (e.g. NoEmptyContinuation). */
  rule: string;
  message: string;
  line: number;
}

export interface Dockerfile {
  filename: string;
  directives: ParserDirectives;
  /** ARG instructions before the first FROM. */
  metaArgs: ArgInstruction[];
  stages: Stage[];
  warnings: ParseWarning[];
}
