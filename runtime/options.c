/* Reading a kiln_options from a program built against another version of kiln.h: only the
 * first struct_size bytes are the caller's (an older header's struct is shorter), and a
 * newer header's fields this library does not know must be left 0 (else it would silently
 * ignore what the caller asked for). */
#include "runtime/options.h"

#include "ir/util.h"

#include <string.h>

/* Far above any kiln_options to come, far below a pointer (the first field of a struct
 * from before struct_size existed). */
#define MAX_SIZE 4096

kiln_status kiln_options_read(const kiln_options *in, kiln_options *out, kiln_error *err) {
  memset(out, 0, sizeof *out);
  out->struct_size = sizeof *out;
  if (!in) return KILN_OK;
  size_t size = in->struct_size;
  if (size < sizeof in->struct_size)
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                     "kiln_options.struct_size is %zu: initialize the options with "
                     "kiln_options_init() (or set struct_size to sizeof(kiln_options))", size);
  if (size > MAX_SIZE) /* no kiln.h has such a struct: likely not a kiln_options at all */
    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                     "kiln_options.struct_size is %zu, more than any kiln_options (%d bytes at "
                     "most): initialize the options with kiln_options_init()", size, MAX_SIZE);
  const unsigned char *bytes = (const unsigned char *)in;
  for (size_t i = sizeof *out; i < size; i++)
    if (bytes[i])
      return kiln_fail(err, KILN_ERR_UNSUPPORTED,
                       "kiln_options: byte %zu of %zu is set, past the %zu bytes this library "
                       "(kiln %s) knows: an option of a newer kiln.h", i, size, sizeof *out,
                       KILN_VERSION);
  memcpy(out, in, size < sizeof *out ? size : sizeof *out);
  out->struct_size = sizeof *out;
  return KILN_OK;
}
