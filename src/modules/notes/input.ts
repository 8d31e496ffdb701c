import sanitizeHtml from 'sanitize-html';
import { z } from 'zod';

// TMI's rules for a note's client-writable fields (NoteBase).

const svgTags = [
  'svg',
  'g',
  'path',
  'circle',
  'ellipse',
  'rect',
  'line',
  'polyline',
  'polygon',
  'text',
  'tspan',
  'title',
  'desc',
];
const svgAttributes = [
  'viewbox',
  'width',
  'height',
  'x',
  'y',
  'x1',
  'y1',
  'x2',
  'y2',
  'cx',
  'cy',
  'r',
  'rx',
  'ry',
  'd',
  'points',
  'fill',
  'stroke',
  'stroke-width',
  'transform',
  'xmlns',
  'font-size',
  'text-anchor',
];

/**
 * Notes are markdown that may carry safe inline HTML (formatting, tables, SVG). Anything able to run
 * code (script, iframe, event handlers, javascript: URLs…) is removed when the note is written.
 */
export function sanitizeNoteContent(content: string): string {
  return sanitizeHtml(content, {
    allowedTags: [...sanitizeHtml.defaults.allowedTags, 'img', 'del', 'ins', 'sup', 'sub', ...svgTags],
    allowedAttributes: {
      ...sanitizeHtml.defaults.allowedAttributes,
      '*': ['title', 'align'],
      td: ['colspan', 'rowspan', 'align'],
      th: ['colspan', 'rowspan', 'align', 'scope'],
      ...Object.fromEntries(svgTags.map((tag) => [tag, svgAttributes])),
    },
    allowedSchemes: ['http', 'https', 'mailto'],
    // Keep the markdown around the HTML as written: the sanitiser escapes every text node, but a `>`
    // (blockquotes) or a bare `&` in text cannot start markup, so they are given back; `<` stays escaped.
    parser: { lowerCaseAttributeNames: true, decodeEntities: false },
    textFilter: (text) => text.replace(/&gt;/g, '>').replace(/&amp;/g, '&'),
  });
}

const name = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(256)
  .regex(/^[^<>"'&]*$/, 'must not contain < > " \' or &');
const content = z
  .string()
  .min(1, 'must not be empty')
  .max(262_144)
  .regex(/^[^\x00-\x08\x0B\x0C\x0E-\x1F]*$/, 'must not contain control characters');
const description = z
  .string()
  .max(2048)
  .regex(/^[^<>\x00-\x08\x0B\x0C\x0E-\x1F]*$/, 'must not contain <, > or control characters')
  .nullish();

export const noteInputSchema = z.strictObject({
  name,
  content,
  description,
  includeInReport: z.boolean().nullish(),
  timmyEnabled: z.boolean().nullish(),
});

export const notePatchableSchema = z.strictObject({
  name,
  content,
  description,
  includeInReport: z.boolean(),
  timmyEnabled: z.boolean(),
});
