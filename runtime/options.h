/* The caller's kiln_options, read by its struct_size into the library's own struct: the
 * public entry points call this once, and everything after them reads only the copy. */
#ifndef KILN_RUNTIME_OPTIONS_H
#define KILN_RUNTIME_OPTIONS_H

#include "kiln.h"

/* *out = the caller's options (NULL: every default) as this library's kiln_options, with
 * the fields the caller's header lacked 0 and struct_size = sizeof *out. Fails naming
 * struct_size when it is too small, or when the caller's struct is larger and sets bytes
 * past this library's. */
kiln_status kiln_options_read(const kiln_options *in, kiln_options *out, kiln_error *err);

#endif
