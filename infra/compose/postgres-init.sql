-- One database per service (each service owns its data); run once by the
-- postgres image on an empty volume.
CREATE DATABASE imcloud_gateway;
CREATE DATABASE imcloud_products;
CREATE DATABASE imcloud_production;
CREATE DATABASE imcloud_servitization;
