#include <stdio.h>

#include "cmd.h"

int cmd_up(int argc, char **argv)
{
	fprintf(stderr, "kelp up: not yet\n");
	return 1;
}
