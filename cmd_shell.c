/* cmd_shell.c - completion: the bash, zsh and fish scripts, each a thin
 * wrapper that asks `contree completion --words -- WORDS...` (complete.c,
 * from the command table) for the candidates. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "complete.h"
#include "contree.h"
#include "util.h"

static const char bash_script[] =
"# contree completion for bash: eval \"$(contree completion bash)\"\n"
"_contree() {\n"
"\tlocal line=${COMP_LINE:0:$COMP_POINT} cur pre w IFS\n"
"\tlocal -a words\n"
"\tread -ra words <<<\"$line\"\n"
"\tcase $line in *[[:space:]]|'') words+=(\"\") ;; esac\n"
"\tcur=${words[${#words[@]}-1]}\n"
"\tpre=${cur%\"${cur##*[:=]}\"}\n"
"\tCOMPREPLY=()\n"
"\tIFS=$'\\n'\n"
"\tfor w in $(command contree completion --words -- \"${words[@]}\" 2>/dev/null); do\n"
"\t\tCOMPREPLY+=(\"${w#\"$pre\"}\")\n"
"\t\tcase $w in *[:=/]) compopt -o nospace 2>/dev/null ;; esac\n"
"\tdone\n"
"}\n"
"complete -o default -F _contree contree\n";

static const char zsh_script[] =
"#compdef contree\n"
"# contree completion for zsh: eval \"$(contree completion zsh)\", or save\n"
"# it as _contree in a directory of $fpath\n"
"_contree() {\n"
"\tlocal -a c more\n"
"\tc=(\"${(@f)$(command contree completion --words -- \"${(@)words[1,CURRENT]}\" 2>/dev/null)}\")\n"
"\tc=(${c:#})\n"
"\tif (( ! ${#c} )); then\n"
"\t\t_files\n"
"\t\treturn\n"
"\tfi\n"
"\tmore=(${(M)c:#*[:=/]})\n"
"\tc=(${c:#*[:=/]})\n"
"\t(( ${#c} )) && compadd -Q -- \"${c[@]}\"\n"
"\t(( ${#more} )) && compadd -Q -S '' -- \"${more[@]}\"\n"
"\treturn 0\n"
"}\n"
"if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n"
"\t_contree \"$@\"\n"
"elif (( $+functions[compdef] )); then\n"
"\tcompdef _contree contree\n"
"fi\n";

static const char fish_script[] =
"# contree completion for fish: contree completion fish | source, or save\n"
"# it as ~/.config/fish/completions/contree.fish\n"
"function __contree_candidates\n"
"\tcommand contree completion --words -- (commandline -opc) (commandline -ct) 2>/dev/null\n"
"end\n"
"function __contree_has_candidates\n"
"\ttest -n \"$(__contree_candidates)\"\n"
"end\n"
"complete -c contree -f -n __contree_has_candidates -a '(__contree_candidates)'\n"
"complete -c contree -F -n 'not __contree_has_candidates'\n";

int
cmd_completion(struct ctx *c)
{
	static const struct {
		const char *name, *text;
	} scripts[] = {
		{"bash", bash_script}, {"zsh", zsh_script}, {"fish", fish_script}
	};
	struct buf out = {0};
	char **w;
	int n, r;
	size_t i;

	w = arg_pos(c, "ARGS", &n);
	if (arg_flag(c, "words")) {
		complete_words(c, w, n, &out);
		r = writeall(1, out.p ? out.p : "", out.len);
		buf_free(&out);
		return r < 0 ? (seterr("writing output:"), -1) : 0;
	}
	for (i = 0; n == 1 && i < LEN(scripts); i++)
		if (strcmp(w[0], scripts[i].name) == 0) {
			if (writeall(1, scripts[i].text, strlen(scripts[i].text)) < 0)
				return seterr("writing output:"), -1;
			return 0;
		}
	if (n == 1)
		usage_fail(c, "argument SHELL: invalid choice: '%s' (choose from 'bash', 'zsh', 'fish')",
		    w[0]);
	else
		usage_fail(c, "expected one SHELL (bash, zsh or fish), or --words -- WORDS...");
	return EXIT_USAGE;
}
