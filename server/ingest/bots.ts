// Known automated user agents (crawlers, link unfurlers, monitors, headless browsers, HTTP libraries).
// Flagged events are stored but never count in live funnels.
const BOT_UA = new RegExp(
  [
    'bot\\b', 'bot/', 'crawl', 'spider', 'slurp', 'headlesschrome', 'phantomjs', 'puppeteer', 'playwright', 'selenium',
    'lighthouse', 'pagespeed', 'gtmetrix', 'pingdom', 'uptimerobot', 'statuscake', 'facebookexternalhit', 'facebookcatalog',
    'embedly', 'quora link preview', 'whatsapp', 'telegrambot', 'slackbot', 'discordbot', 'bingpreview', 'yandex',
    'baiduspider', 'duckduckbot', 'applebot', 'ahrefs', 'semrush', 'mj12bot', 'dotbot', 'petalbot', 'bytespider',
    'gptbot', 'claudebot', 'perplexitybot', 'ccbot', 'python-requests', 'python-urllib', 'aiohttp', 'go-http-client',
    'okhttp', 'curl/', 'wget/', 'libwww', 'httpclient', 'java/', 'scrapy', 'node-fetch', 'axios/', 'postmanruntime',
  ].join('|'),
  'i',
);

export function isBot(userAgent: string | null | undefined): boolean {
  return typeof userAgent === 'string' && userAgent.length > 0 && BOT_UA.test(userAgent);
}
