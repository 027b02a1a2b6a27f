/* SPDX-License-Identifier: BSD-2-Clause */
/* Stable names for the shared enums, used in CLI output and JSON. */
#ifndef SGBPF_NAMES_H
#define SGBPF_NAMES_H

#include <stdint.h>

const char *sgbpf_drop_reason_name(unsigned reason);   /* "no-rule", "spoofed-source", ... */
const char *sgbpf_allow_reason_name(unsigned reason);  /* "rule", "tracked", ...           */
const char *sgbpf_ct_state_name(unsigned state);       /* "syn-sent", "established", ...   */
const char *sgbpf_dir_name(unsigned dir);              /* "in", "out"                      */
const char *sgbpf_family_name(unsigned family);        /* "ipv4", "ipv6"                   */

#endif
