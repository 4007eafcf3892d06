/**
 * Reads one-time codes from Kratos's courier admin API (no SMTP: the suite's Kratos runs with
 * --dev, so message bodies are readable, and without --watch-courier, so they stay queued).
 */
export interface CourierMessage {
  id: string;
  recipient: string;
  template_type: string;
  body: string;
  created_at: string;
}

export async function courierMessages(adminUrl: string, recipient: string): Promise<CourierMessage[]> {
  const res = await fetch(`${adminUrl}/admin/courier/messages?recipient=${encodeURIComponent(recipient.trim().toLowerCase())}&page_size=50`);
  if (!res.ok) throw new Error(`courier messages: ${res.status}`);
  return (await res.json()) as CourierMessage[];
}

/** The 6-digit code of the newest message of `templateType` to `recipient` (waits briefly for it). */
export async function latestCode(adminUrl: string, recipient: string, templateType: string, notIn: ReadonlySet<string> = new Set()): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const message = (await courierMessages(adminUrl, recipient)).find((m) => m.template_type === templateType && !notIn.has(m.id));
    const code = message?.body.match(/(\d{6})/)?.[1];
    if (code) return code;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${templateType} message for ${recipient}`);
}
