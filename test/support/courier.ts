/**
 * Reads one-time codes from Kratos's courier through the admin API, so integration tests need
 * no SMTP server: Kratos queues every email in its database during the request
 * (`GET {admin}/admin/courier/messages?recipient=<email>`, newest first, paged, 10 by default).
 * The body is readable only because the test Kratos runs with `--dev` (otherwise
 * `<redacted-unless-dev-mode>`); the subject never is. Recipients are stored lowercased.
 * See ../shared/kratos-facts-2.md §7.
 */

export interface CourierMessage {
  id: string;
  status: string;
  recipient: string;
  subject: string;
  body: string;
  template_type: string;
  created_at: string;
}

export interface LatestCodeOptions {
  /**
   * Only a message newer than this: a message id (as returned by `latestMessage`) or a
   * `Date` (messages created at or before it are ignored). Use it after a re-send so the
   * earlier code is not picked up.
   */
  after?: string | Date;
  /** Only this template, e.g. `verification_code_valid`, `recovery_code_valid`, `login_code_valid`, `registration_code_valid`. */
  templateType?: string;
  /** How long to wait for the message to appear (ms). Kratos queues synchronously, so a short wait is enough. Default 5000. */
  timeoutMs?: number;
}

/** The messages Kratos has queued for `email` (lowercased), newest first (up to `pageSize`). */
export async function courierMessages(adminUrl: string, email: string, pageSize = 50): Promise<CourierMessage[]> {
  const url = new URL('/admin/courier/messages', adminUrl);
  url.searchParams.set('recipient', email.trim().toLowerCase());
  url.searchParams.set('page_size', String(pageSize));
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`courier: GET ${url.pathname} answered ${res.status}`);
  return (await res.json()) as CourierMessage[];
}

/** The newest message for `email` (optionally of one template), or undefined. */
export async function latestMessage(adminUrl: string, email: string, templateType?: string): Promise<CourierMessage | undefined> {
  const list = await courierMessages(adminUrl, email);
  return list.find((m) => templateType === undefined || m.template_type === templateType);
}

function newerThan(list: CourierMessage[], after: string | Date | undefined): CourierMessage[] {
  if (after === undefined) return list;
  if (after instanceof Date) return list.filter((m) => Date.parse(m.created_at) > after.getTime());
  // Newest first: everything before the marker id in the list is newer.
  const index = list.findIndex((m) => m.id === after);
  return index === -1 ? list : list.slice(0, index);
}

/**
 * The 6-digit code of the newest matching message for `email` (first `\d{6}` in its body, as
 * Kratos's own tests do), waiting up to `timeoutMs` for it to appear.
 */
export async function latestCode(adminUrl: string, email: string, options: LatestCodeOptions = {}): Promise<string> {
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  for (;;) {
    const list = newerThan(await courierMessages(adminUrl, email), options.after);
    const message = list.find((m) => options.templateType === undefined || m.template_type === options.templateType);
    if (message) {
      if (message.body.includes('redacted')) throw new Error('courier: the message body is redacted; run Kratos with --dev');
      const code = /(\d{6})/.exec(message.body)?.[1];
      if (!code) throw new Error(`courier: no 6-digit code in the ${message.template_type} message`);
      return code;
    }
    if (Date.now() > deadline) throw new Error(`courier: no ${options.templateType ?? ''} message for that address within the timeout`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
