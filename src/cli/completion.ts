// `tcpmitm completion bash|zsh`: a shell completion script, written from the
// command tree itself (so it never lists a flag that is gone) with the
// built-in profile and exercise names of this installation. zsh runs the
// same function through its bashcompinit layer.

/** What an option's value, or a command's positional argument, is completed with. */
export type ValueKind =
  | { readonly kind: 'choices'; readonly values: readonly string[] }
  | { readonly kind: 'profile' }
  | { readonly kind: 'exercise' }
  | { readonly kind: 'file' }
  | { readonly kind: 'interface' }
  /** A value nothing can guess (a port, an id, a duration): nothing is offered. */
  | { readonly kind: 'value' };

export interface CommandSpec {
  /** "" for tcpmitm itself, "lab", "lab up", … */
  readonly path: string;
  readonly subcommands: readonly string[];
  /** Long (and short) option names, and how a value is completed when the option takes one. */
  readonly options: readonly { readonly names: readonly string[]; readonly value?: ValueKind }[];
  /** The kind of its positional arguments (the first one's; later ones alike), if any. */
  readonly args?: ValueKind;
}

export interface CompletionWords {
  readonly profiles: readonly string[];
  /** Ids and numbers. */
  readonly exercises: readonly string[];
}

export type Shell = 'bash' | 'zsh';
export const SHELLS: readonly Shell[] = ['bash', 'zsh'];

/** Single-quoted for the shell. */
function q(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function kindWord(v: ValueKind): string {
  return v.kind === 'choices' ? `choices:${v.values.join(' ')}` : v.kind;
}

function caseArms(arms: readonly (readonly [pattern: string, out: string])[]): string {
  return arms.map(([p, out]) => `    ${q(p)}) echo ${q(out)} ;;`).join('\n');
}

/** The bash function `_tcpmitm` and its tables. */
export function bashScript(commands: readonly CommandSpec[], words: CompletionWords): string {
  const subs = caseArms(commands.filter((c) => c.subcommands.length > 0).map((c) => [c.path, c.subcommands.join(' ')]));
  const opts = caseArms(commands.map((c) => [c.path, [...c.options.flatMap((o) => o.names), '--help'].join(' ')]));
  const values = caseArms(commands.flatMap((c) => c.options.flatMap((o) => (o.value === undefined ? [] : o.names.map((n) => [`${c.path}|${n}`, kindWord(o.value!)] as const)))));
  const args = caseArms(commands.flatMap((c) => (c.args === undefined ? [] : [[c.path, kindWord(c.args)] as const])));
  return `# tcpmitm completion for bash: eval "$(tcpmitm completion bash)" in ~/.bashrc,
# or save it as /etc/bash_completion.d/tcpmitm.
_tcpmitm_subs() {
  case "$1" in
${subs}
  esac
}
_tcpmitm_opts() {
  case "$1" in
${opts}
  esac
}
# How the value of option $2 of command $1 is completed (nothing: it takes none).
_tcpmitm_value() {
  case "$1|$2" in
${values}
  esac
}
_tcpmitm_args() {
  case "$1" in
${args}
  esac
}
_tcpmitm_offer() {
  local cur="$2"
  case "$1" in
    choices:*) COMPREPLY=($(compgen -W "\${1#choices:}" -- "$cur")) ;;
    profile) COMPREPLY=($(compgen -W ${q(words.profiles.join(' '))} -- "$cur") $(compgen -f -- "$cur")) ;;
    exercise) COMPREPLY=($(compgen -W ${q(words.exercises.join(' '))} -- "$cur") $(compgen -f -- "$cur")) ;;
    file) COMPREPLY=($(compgen -f -- "$cur")) ;;
    interface) COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur")) ;;
    *) COMPREPLY=() ;;
  esac
}
_tcpmitm() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" i w kind skip=""
  # The command path so far: words that name a sub-command, past options and their values.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if [[ -n $skip ]]; then skip=""; continue; fi
    if [[ $w == -- ]]; then return 0; fi
    if [[ $w == -* ]]; then
      [[ -n $(_tcpmitm_value "$path" "$w") ]] && skip=1
    elif [[ " $(_tcpmitm_subs "$path") " == *" $w "* ]]; then
      path="\${path:+$path }$w"
    fi
  done
  if [[ -n $skip ]]; then
    _tcpmitm_offer "$(_tcpmitm_value "$path" "\${COMP_WORDS[COMP_CWORD-1]}")" "$cur"
    return 0
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_tcpmitm_opts "$path")" -- "$cur"))
    return 0
  fi
  kind="$(_tcpmitm_subs "$path")"
  if [[ -n $kind ]]; then
    COMPREPLY=($(compgen -W "$kind" -- "$cur"))
    return 0
  fi
  _tcpmitm_offer "$(_tcpmitm_args "$path")" "$cur"
}
complete -o filenames -F _tcpmitm tcpmitm
`;
}

/** The script for `shell`. */
export function completionScript(shell: Shell, commands: readonly CommandSpec[], words: CompletionWords): string {
  const bash = bashScript(commands, words);
  if (shell === 'bash') return bash;
  return `#compdef tcpmitm
# tcpmitm completion for zsh: source <(tcpmitm completion zsh) in ~/.zshrc.
# The bash completion, through zsh's own bashcompinit layer.
autoload -U +X compinit && { (( $+functions[compdef] )) || compinit; }
autoload -U +X bashcompinit && bashcompinit
${bash}`;
}
