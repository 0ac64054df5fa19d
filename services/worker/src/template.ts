/**
 * Fills `{{name}}` placeholders of an alert's subject and message. Unknown names stay as written,
 * so a typo shows in the message instead of silently disappearing.
 */
export function renderTemplate(template: string, vars: Record<string, string | number | null>): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (whole, name: string) => {
    const value = vars[name];
    return value === undefined || value === null ? whole : String(value);
  });
}
