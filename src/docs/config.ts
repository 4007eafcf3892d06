import { z } from 'zod';

/**
 * `openapi`: what `/openapi.json` says about where the API is. `docs`: the API docs page at
 * `/docs` (Swagger UI, served from the gateway's own assets).
 */
export const openapiConfigSchema = z
  .object({
    /**
     * The `servers` of the document. Default: one relative server, `server.base_path` (or `/`),
     * which is right wherever the document is fetched from; list absolute URLs when clients
     * generate code from a copy of the document.
     */
    servers: z
      .array(
        z
          .object({
            url: z.string().min(1),
            description: z.string().optional(),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export const docsConfigSchema = z
  .object({
    /** Serve the docs page at `/docs`. Off unless turned on (see README, "API docs page"). */
    enabled: z.boolean().default(false),
  })
  .strict();

export type OpenapiConfig = z.infer<typeof openapiConfigSchema>;
export type DocsConfig = z.infer<typeof docsConfigSchema>;

/** The renderer's files the docs page loads (from swagger-ui-dist). */
export const docsAssetNames = ['swagger-ui-bundle.js', 'swagger-ui.css'] as const;
export type DocsAssetName = (typeof docsAssetNames)[number];

/** Where the renderer's files come from (AppDeps.docsAssets): the file's bytes, or null when missing. */
export type DocsAssetSource = (name: DocsAssetName) => Promise<BodyInit | null>;
