/* The roles of the kelp multi-call binary. Each takes argv after the role. */
#pragma once

int cmd_up(int argc, char **argv);
