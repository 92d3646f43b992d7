import { operatorRoleTable } from '../api/operator-role-table';
import { openApiRoutes } from './openapi';

/** Prints the README's operator role × route table (README: Operators) from the route declarations. */
console.log(operatorRoleTable(openApiRoutes('operator')));
