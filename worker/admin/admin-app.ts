/**
 * @module
 * The admin API under `/admin/` (paths fixed in architecture.md, plus listing, rotation and per-key
 * limits), all behind `ADMIN_TOKEN`. Errors go through the app's one `onError` like everywhere else.
 */
import { Hono } from 'hono'
import type { AppEnv } from '../env.ts'
import { adminAuth } from './admin-auth.ts'
import { keyRoutes, tenantKeyRoutes } from './key-routes.ts'
import { tenantRoutes } from './tenant-routes.ts'

export const adminApp = new Hono<AppEnv>()

adminApp.use('*', adminAuth())
adminApp.route('/tenants', tenantRoutes)
adminApp.route('/tenants', tenantKeyRoutes)
adminApp.route('/keys', keyRoutes)
